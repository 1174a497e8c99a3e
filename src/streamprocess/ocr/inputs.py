"""Pages from images and PDFs, with limits and clear errors.

PNG, JPEG, TIFF (every frame), BMP, WebP, GIF and PDF (rendered with pypdfium2 at a chosen DPI). EXIF orientation
is applied. Limits: pixels per page (decompression bombs), pages per document. Encrypted or corrupt PDFs (truncated,
damaged, a page tree that loops), truncated images and anything that is not an image fail with a
:class:`DocumentError` (permanent, ``corrupt_media``): never an internal error that would be retried. PDFium bounds its
own walk of a page tree (it detects loops and limits depth), so a looping tree fails in milliseconds.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence

from ..errors import PermanentError

DEFAULT_DPI = 200.0


class DocumentError(PermanentError):
    code = "corrupt_media"


class TooManyPages(DocumentError):
    code = "too_many_pages"


class PageTooLarge(DocumentError):
    code = "page_too_large"


class EncryptedDocument(DocumentError):
    code = "encrypted_pdf"


@dataclass
class PageImage:
    index: int  # 1-based
    image: Image.Image  # RGB
    dpi: float
    text_layer: str | None = None  # the PDF page's own text, when it has one


def is_pdf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(5) == b"%PDF-"


def count_pages(path: Path) -> int:
    if is_pdf(path):
        with _open_pdf(path) as pdf:
            return len(pdf)
    with _open_image(path) as im:
        return getattr(im, "n_frames", 1)


def load_pages(path: Path, *, dpi: float = DEFAULT_DPI, max_pixels: int = 50_000_000, max_pages: int = 500,
               text_layer: bool = False) -> Iterator[PageImage]:
    """Each page as an RGB image, lazily (one page in memory at a time)."""
    if path.stat().st_size == 0:
        raise DocumentError("the file is empty (0 bytes)")
    if is_pdf(path):
        yield from _pdf_pages(path, dpi, max_pixels, max_pages, text_layer)
    else:
        yield from _image_pages(path, max_pixels, max_pages)


# What PDFium (via pypdfium2) and Pillow raise on a damaged document: PdfiumError is a RuntimeError, as is
# RecursionError; OSError and ValueError come from reading the file and converting a rendered bitmap.
_PDF_ERRORS = (RuntimeError, OSError, ValueError)


class _open_pdf:
    def __init__(self, path: Path) -> None:
        import pypdfium2 as pdfium

        try:
            self.pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as e:
            if "password" in str(e).lower():
                raise EncryptedDocument("the PDF is encrypted (password protected)") from None
            raise DocumentError(f"cannot read the PDF: {e}") from None
        except _PDF_ERRORS as e:
            raise DocumentError(f"cannot read the PDF: {e}") from None

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self.pdf

    def __exit__(self, *exc: object) -> None:
        self.pdf.close()


def _pdf_pages(path: Path, dpi: float, max_pixels: int, max_pages: int, text_layer: bool) -> Iterator[PageImage]:
    with _open_pdf(path) as pdf:
        n = len(pdf)
        if n == 0:
            raise DocumentError("the PDF has no pages")
        if n > max_pages:
            raise TooManyPages(f"{n} pages is over the {max_pages}-page limit")
        for i in range(n):
            try:
                page = pdf[i]
            except _PDF_ERRORS as e:
                raise DocumentError(f"cannot read page {i + 1} of the PDF (a damaged or looping page tree?): "
                                    f"{e}") from None
            try:
                w_pt, h_pt = page.get_size()
                pixels = (w_pt * dpi / 72) * (h_pt * dpi / 72)
                if pixels > max_pixels:
                    raise PageTooLarge(f"page {i + 1} would be {pixels / 1e6:.0f} megapixels at {dpi:.0f} DPI; "
                                       f"the limit is {max_pixels / 1e6:.0f}")
                text = None
                if text_layer:
                    textpage = page.get_textpage()
                    text = textpage.get_text_range().strip() or None
                    textpage.close()
                image = page.render(scale=dpi / 72).to_pil().convert("RGB")
            except _PDF_ERRORS as e:
                raise DocumentError(f"cannot render page {i + 1} of the PDF: {e}") from None
            finally:
                page.close()
            yield PageImage(index=i + 1, image=image, dpi=dpi, text_layer=text)


def _open_image(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise PageTooLarge(f"the image is over {Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels "
                           "(a decompression bomb?)") from None
    except Exception as e:
        raise DocumentError(f"not a readable image or PDF: {e}") from None


def _image_pages(path: Path, max_pixels: int, max_pages: int) -> Iterator[PageImage]:
    with _open_image(path) as im:
        n = getattr(im, "n_frames", 1)
        if n > max_pages:
            raise TooManyPages(f"{n} pages is over the {max_pages}-page limit")
        for i, frame in enumerate(ImageSequence.Iterator(im)):
            w, h = frame.size
            if w * h > max_pixels:
                raise PageTooLarge(f"page {i + 1} is {w}×{h} = {w * h / 1e6:.0f} megapixels; "
                                   f"the limit is {max_pixels / 1e6:.0f}")
            try:
                frame.load()
                rgb = (ImageOps.exif_transpose(frame) or frame).convert("RGB")
            except (OSError, SyntaxError, ValueError) as e:
                raise DocumentError(f"page {i + 1} cannot be decoded (truncated or corrupt): {e}") from None
            dpi = frame.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI))[0] or DEFAULT_DPI
            yield PageImage(index=i + 1, image=rgb, dpi=float(dpi))
