"""Tesseract (the Debian ``tesseract-ocr`` package and its language packs) through its command line.

``OMP_THREAD_LIMIT=1``: Tesseract's OpenMP threads make it 4–6× slower with the same output on a busy CPU; run pages
in parallel instead. TSV output gives words with boxes and confidences, grouped into Tesseract's lines.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from ...errors import ErrorCode, StreamProcessError
from ..languages import any_cjk, join_pieces
from ..types import Box, Line, Word, union

#: Height crops are scaled up to before Tesseract reads them (its models like capitals about 30 pixels high).
CROP_HEIGHT = 40


class TesseractUnavailable(StreamProcessError):
    code = ErrorCode.ENGINE_UNAVAILABLE


def parse_list_langs(stdout: str) -> tuple[str, frozenset[str]]:
    """What ``tesseract --list-langs`` printed: the tessdata folder its first line names, and the languages."""
    lines = stdout.splitlines()
    where = re.search(r'"(.*?)"', lines[0]) if lines else None
    return (where.group(1) if where else ""), frozenset(line.strip() for line in lines[1:] if line.strip())


@functools.cache
def installed_languages() -> frozenset[str]:
    exe = shutil.which("tesseract")
    if exe is None:
        return frozenset()
    return parse_list_langs(subprocess.run([exe, "--list-langs"], capture_output=True, text=True, check=False).stdout)[
        1
    ]


def _run(image: Image.Image, args: list[str], timeout: float = 120, output: str = "stdout") -> str:
    exe = shutil.which("tesseract")
    if exe is None:
        raise TesseractUnavailable("tesseract is not installed (apt-get install tesseract-ocr)")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    proc = subprocess.run(
        [exe, "stdin", output, *args], input=buf.getvalue(), capture_output=True, timeout=timeout, env=env, check=False
    )
    if proc.returncode != 0:
        raise StreamProcessError(
            f"tesseract failed: {proc.stderr.decode(errors='replace').strip()[:300]}", code=ErrorCode.ENGINE_ERROR
        )
    return proc.stdout.decode("utf-8", errors="replace")


#: OSD reads a page whose longer side is over this many pixels at half size: on 300-dpi scans the same rotation and
#: script for a third to a half of the time (linn 1.01 → 0.74 s, typewriter 1.60 → 0.67 s, bench/ocr_profile.py);
#: smaller pages are not shrunk (a 75-dpi page at half size gave no answer).
OSD_HALF_SIZE_ABOVE = 2400


def detect_orientation(image: Image.Image) -> tuple[int, str | None]:
    """Tesseract OSD: (degrees to rotate clockwise to make the page upright, script) — (0, None) when unsure."""
    if max(image.size) > OSD_HALF_SIZE_ABOVE:
        image = image.reduce(2)
    try:
        out = _run(image, ["--psm", "0"], timeout=60)
    except StreamProcessError:
        return 0, None  # too little text to tell
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    rotate = int(fields.get("Rotate", "0").strip() or 0)
    script = fields.get("Script", "").strip() or None
    confident = float(fields.get("Orientation confidence", "0").strip() or 0) >= 2.0
    return (rotate if confident else 0), script


class TesseractEngine:
    name = "tesseract"

    @property
    def languages(self) -> frozenset[str]:
        return installed_languages()

    def _check(self, languages: list[str]) -> None:
        missing = [lang for lang in languages if lang not in self.languages]
        if missing:
            packages = " ".join("tesseract-ocr-" + m.replace("_", "-") for m in missing)
            raise TesseractUnavailable(
                f"tesseract language pack(s) not installed: {', '.join(missing)} (apt-get install {packages})"
            )

    def recognize(self, image: Image.Image, languages: list[str]) -> list[Line]:
        self._check(languages)
        return _read(image, languages, psm=3)

    def recognize_crops(self, image: Image.Image, boxes: list[Box], languages: list[str]) -> list[Line | None]:
        """Each box of ``image`` read as one line (None where nothing was read), in page coordinates.

        The crops are stacked, left-aligned with white between them, into one strip read by one Tesseract run as a
        uniform block (``--psm 6``): one process start and one model load for all of them (the five lines of the
        Korean test page: 0.32 s together, 0.12 s each on its own). Crops lower than :data:`CROP_HEIGHT` are
        scaled up to it first. Each line Tesseract finds belongs to the crop its middle lies in.
        """
        self._check(languages)
        if not boxes:
            return []
        crops, scales = [], []
        for box in boxes:
            crop = image.crop(box).convert("L")
            scale = max(1.0, CROP_HEIGHT / max(1, crop.height))
            if scale > 1:
                crop = crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.Resampling.LANCZOS)
            crops.append(crop)
            scales.append(scale)
        gap = max(c.height for c in crops) // 2 + 8
        strip = Image.new(
            "L", (max(c.width for c in crops) + 2 * gap, sum(c.height for c in crops) + gap * (len(crops) + 1)), 255
        )
        tops, y = [], gap
        for crop in crops:
            strip.paste(crop, (gap, y))
            tops.append(y)
            y += crop.height + gap
        found: list[list[Line]] = [[] for _ in boxes]
        for line in _read(strip, languages, psm=6):
            mid = (line.bbox[1] + line.bbox[3]) / 2
            i = next((i for i, top in enumerate(tops) if top - gap / 2 <= mid < top + crops[i].height + gap / 2), None)
            if i is not None:
                found[i].append(line)
        out: list[Line | None] = []
        for box, top, scale, lines in zip(boxes, tops, scales, found, strict=True):
            if not lines:
                out.append(None)
                continue

            def back(b: Box, top: int = top, scale: float = scale, box: Box = box) -> Box:
                return (
                    box[0] + round((b[0] - gap) / scale),
                    box[1] + round((b[1] - top) / scale),
                    box[0] + round((b[2] - gap) / scale),
                    box[1] + round((b[3] - top) / scale),
                )

            lines.sort(key=lambda line: line.bbox[0])
            words = [w.model_copy(update={"bbox": back(w.bbox)}) for line in lines for w in line.words]
            conf = sum(w.confidence for w in words) / len(words) if words else 0.0
            out.append(
                Line(
                    text=" ".join(line.text for line in lines),
                    bbox=back(union([line.bbox for line in lines])),
                    confidence=round(conf, 4),
                    words=words,
                )
            )
        return out


def _read(image: Image.Image, languages: list[str], psm: int) -> list[Line]:
    cjk = any_cjk(languages)
    with tempfile.TemporaryDirectory(prefix="sp-tess-") as tmp:
        # One run, two renderings: TSV for the boxes, text for the words as Tesseract spaces them (its TSV
        # cuts CJK words into pieces and does not say which pieces belong together).
        _run(image, ["-l", "+".join(languages) or "eng", "--psm", str(psm), "txt", "tsv"], output=f"{tmp}/out")
        tsv = Path(tmp, "out.tsv").read_text(encoding="utf-8", errors="replace")
        texts = [
            t for t in Path(tmp, "out.txt").read_text(encoding="utf-8", errors="replace").splitlines() if t.strip()
        ]
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        x, y, w, h = (int(row[k]) for k in ("left", "top", "width", "height"))
        key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
        lines.setdefault(key, []).append(
            Word(text=text, bbox=(x, y, x + w, y + h), confidence=round(max(0.0, float(row["conf"])) / 100, 4))
        )
    out = []
    use_text = len(texts) == len(lines)
    for i, words in enumerate(lines.values()):
        conf = sum(w.confidence for w in words) / len(words)
        if use_text:
            text = texts[i].strip()
        else:
            text = join_pieces((w.text for w in words), cjk)
        out.append(Line(text=text, bbox=union([w.bbox for w in words]), confidence=round(conf, 4), words=words))
    return out
