"""Every image mode reaches the OCR engines as 8-bit RGB with dark text on a light page (issue 12: plain rapidocr
reads nothing from a palette PNG; a transparent background or a floating-point TIFF came out black or blank and the
job "succeeded" with no text)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from streamprocess.ocr.inputs import load_pages, to_rgb

INK, PAPER = 20, 235  # the grey levels of the test page's text and background


def page(mode: str) -> Image.Image:
    """A 64×32 page: paper with an ink bar in the middle, in ``mode``."""
    grey = np.full((32, 64), PAPER, np.uint8)
    grey[12:20, 8:56] = INK
    alpha = (255 - grey).astype(np.uint8)  # for the transparent ones: only the ink is opaque
    if mode == "RGBA-transparent":
        rgba = np.zeros((32, 64, 4), np.uint8)
        rgba[..., 3] = alpha
        return Image.fromarray(rgba, "RGBA")
    if mode == "LA-transparent":
        la = np.zeros((32, 64, 2), np.uint8)
        la[..., 1] = alpha
        return Image.fromarray(la, "LA")
    if mode == "I;16":
        return Image.fromarray(grey.astype(np.uint16) * 257)
    if mode == "I;16-12bit":
        return Image.fromarray(grey.astype(np.uint16) * 16)  # a 12-bit scanner's data in a 16-bit file
    if mode == "I":
        return Image.fromarray(grey.astype(np.int32) * 257)
    if mode == "F":
        return Image.fromarray(grey.astype(np.float32) / 255)
    if mode == "1":
        return Image.fromarray(grey).convert("1", dither=Image.Dither.NONE)
    return Image.fromarray(grey).convert(mode)


MODES = ["L", "RGB", "P", "1", "CMYK", "RGBA", "LA", "RGBA-transparent", "LA-transparent", "I;16", "I;16-12bit"]
MODES += ["I", "F"]


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_becomes_dark_ink_on_light_paper(mode: str) -> None:
    rgb = to_rgb(page(mode))
    assert rgb.mode == "RGB" and rgb.size == (64, 32)
    grey = np.asarray(rgb.convert("L"), dtype=int)
    ink, paper = grey[12:20, 8:56].mean(), grey[:8].mean()
    assert ink < 80 and paper > 180, (mode, ink, paper)


@pytest.mark.parametrize(("mode", "suffix"), [("F", ".tiff"), ("I;16", ".png"), ("RGBA-transparent", ".png")])
def test_pages_loaded_from_files_are_normalised(tmp_path: Path, mode: str, suffix: str) -> None:
    path = tmp_path / f"page{suffix}"
    page(mode).save(path)
    (loaded,) = list(load_pages(path))
    grey = np.asarray(loaded.image.convert("L"), dtype=int)
    assert grey[12:20, 8:56].mean() < 80 and grey[:8].mean() > 180
