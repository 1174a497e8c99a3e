"""Pages from images and PDFs, with limits and clear errors.

PNG, JPEG, TIFF (every frame), BMP, WebP, GIF and PDF (rendered with pypdfium2 at a chosen DPI). EXIF orientation
is applied. Limits: pixels per page (decompression bombs), pages per document. Encrypted or corrupt PDFs (truncated,
damaged, a page tree that loops), truncated images and anything that is not an image fail with a
:class:`DocumentError` (permanent, ``corrupt_media``): never an internal error that would be retried. PDFium bounds its
own walk of a page tree (it detects loops and limits depth), so a looping tree fails in milliseconds.
"""

from __future__ import annotations

import contextlib
import struct
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps

if TYPE_CHECKING:  # PDFium is loaded when a PDF is opened
    import pypdfium2 as pdfium

from ..errors import ErrorCode, PermanentError

DEFAULT_DPI = 200.0


class DocumentError(PermanentError):
    code = ErrorCode.CORRUPT_MEDIA


class TooManyPages(DocumentError):
    code = ErrorCode.TOO_MANY_PAGES


class PageTooLarge(DocumentError):
    code = ErrorCode.PAGE_TOO_LARGE


class EncryptedDocument(DocumentError):
    code = ErrorCode.ENCRYPTED_PDF


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
        with _open_pdf(path) as pdf, PDFIUM_LOCK:
            return len(pdf)
    with _open_image(path) as im:
        return _frame_count(im)


# What Pillow raises on a damaged image besides OSError: counting or seeking the frames of a multi-frame TIFF or GIF
# whose later frame is cut off or damaged fails with TypeError ("Missing dimensions"), IndexError, KeyError, EOFError
# or struct.error.
_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError, struct.error)


def _frame_count(im: Image.Image) -> int:
    try:
        with _bomb_guard("a page"):
            return getattr(im, "n_frames", 1)
    except _IMAGE_ERRORS as e:
        raise DocumentError(f"its pages cannot be read (truncated or corrupt): {e or type(e).__name__}") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Any image mode as the engines read it, 8-bit RGB with dark text on a light page: transparency is laid on
    white (a PNG with a transparent background and black text would otherwise be black on black), 16- and 32-bit
    grey (``I;16``, ``I``) are scaled by their own maximum (12-bit scanner data in a 16-bit file included) and
    floating-point grey (``F``) by 255 when its values are fractions; palette, CMYK, 1-bit and the rest through
    Pillow's own conversion."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        page = Image.new("RGB", rgba.size, "white")
        page.paste(rgba, mask=rgba.getchannel("A"))
        return page
    if image.mode in ("I", "F") or image.mode.startswith("I;"):
        extrema = image.getextrema()  # one band: (min, max)
        top = float(extrema[1]) if isinstance(extrema[1], (int, float)) else 255.0
        scale = 255.0 if image.mode == "F" and top <= 1.0 else 255.0 / max(top, 255.0)
        wide = image if image.mode in ("I", "F") else image.convert("I")  # no copy of the page as an array
        return wide.point(lambda v: v * scale).convert("L").convert("RGB")  # converting to L saturates
    return image.convert("RGB")


def load_pages(
    path: Path,
    *,
    dpi: float = DEFAULT_DPI,
    max_pixels: int = 50_000_000,
    max_pages: int = 500,
    text_layer: bool = False,
) -> Iterator[PageImage]:
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

#: PDFium is not thread-safe: no two of its calls may run at once in a process, not even on different documents
#: (pypdfium2's documentation: doing so crashes the process or corrupts its state). A worker runs jobs in threads, so
#: every PDFium call here holds this lock.
PDFIUM_LOCK = threading.RLock()


def _mentions_encrypt(path: Path, chunk: int = 1 << 20) -> bool:
    """Whether the file holds ``/Encrypt`` anywhere (read in chunks that overlap by the needle's length)."""
    needle, tail = b"/Encrypt", b""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            if needle in tail + block:
                return True
            tail = block[-len(needle) :]
    return False


class _open_pdf:
    def __init__(self, path: Path) -> None:
        import pypdfium2 as pdfium

        try:
            with PDFIUM_LOCK:
                self.pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as e:
            # PDFium's last error is not set by every failure: a PDF whose page tree is empty fails with the error of
            # whatever document failed before it in this process. A password error is believed only for a file that
            # has an /Encrypt dictionary.
            if "password" in str(e).lower():
                if _mentions_encrypt(path):
                    raise EncryptedDocument("the PDF is encrypted (password protected)") from None
                raise DocumentError("cannot read the PDF (PDFium cannot load it: no usable page tree?)") from None
            raise DocumentError(f"cannot read the PDF: {e}") from None
        except _PDF_ERRORS as e:
            raise DocumentError(f"cannot read the PDF: {e}") from None

    def __enter__(self) -> pdfium.PdfDocument:
        return self.pdf

    def __exit__(self, *exc: object) -> None:
        with PDFIUM_LOCK:
            self.pdf.close()


def _pdf_pages(path: Path, dpi: float, max_pixels: int, max_pages: int, text_layer: bool) -> Iterator[PageImage]:
    with _open_pdf(path) as pdf:
        with PDFIUM_LOCK:
            n = len(pdf)
        if n == 0:
            raise DocumentError("the PDF has no pages")
        if n > max_pages:
            raise TooManyPages(f"{n} pages is over the {max_pages}-page limit")
        for i in range(n):
            with PDFIUM_LOCK:  # held for one page at a time, never across the yield
                image, text = _render_page(pdf, i, dpi, max_pixels, text_layer)
            yield PageImage(index=i + 1, image=image, dpi=dpi, text_layer=text)


def _render_page(
    pdf: pdfium.PdfDocument, i: int, dpi: float, max_pixels: int, text_layer: bool
) -> tuple[Image.Image, str | None]:
    try:
        page = pdf[i]
    except _PDF_ERRORS as e:
        raise DocumentError(f"cannot read page {i + 1} of the PDF (a damaged or looping page tree?): {e}") from None
    try:
        w_pt, h_pt = page.get_size()
        pixels = (w_pt * dpi / 72) * (h_pt * dpi / 72)
        if pixels > max_pixels:
            raise PageTooLarge(
                f"page {i + 1} would be {pixels / 1e6:.0f} megapixels at {dpi:.0f} DPI; "
                f"the limit is {max_pixels / 1e6:.0f}"
            )
        text = None
        if text_layer:
            textpage = page.get_textpage()
            text = textpage.get_text_range().strip() or None
            textpage.close()
        bitmap = page.render(scale=dpi / 72)
        try:
            image = bitmap.to_pil().convert("RGB")  # a copy: the bitmap can go now
        finally:
            bitmap.close()
    except _PDF_ERRORS as e:
        raise DocumentError(f"cannot render page {i + 1} of the PDF: {e}") from None
    finally:
        page.close()
    return image, text


@contextlib.contextmanager
def _bomb_guard(what: str) -> Iterator[None]:
    """Pillow's decompression-bomb refusal (its warning too) as :class:`PageTooLarge`: raised when an image is
    opened, and again when a later frame of a GIF or TIFF declares a huge size as it is counted or reached."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise PageTooLarge(
            f"{what} is over {(Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels (a decompression bomb?)"
        ) from None


def _open_image(path: Path) -> Image.Image:
    try:
        with _bomb_guard("the image"):
            return Image.open(path)
    except PageTooLarge:
        raise
    except Exception as e:
        raise DocumentError(f"not a readable image or PDF: {e}") from None


def _image_pages(path: Path, max_pixels: int, max_pages: int) -> Iterator[PageImage]:
    with _open_image(path) as im:
        n = _frame_count(im)
        if n > max_pages:
            raise TooManyPages(f"{n} pages is over the {max_pages}-page limit")
        for i in range(n):
            try:
                with _bomb_guard(f"page {i + 1}"):
                    im.seek(i)
            except EOFError:  # fewer frames than counted
                break
            except _IMAGE_ERRORS as e:
                raise DocumentError(f"page {i + 1} cannot be read (truncated or corrupt): {e}") from None
            frame = im
            w, h = frame.size
            if w * h > max_pixels:
                raise PageTooLarge(
                    f"page {i + 1} is {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is {max_pixels / 1e6:.0f}"
                )
            try:
                frame.load()
                rgb = to_rgb(ImageOps.exif_transpose(frame) or frame)
            except _IMAGE_ERRORS as e:
                raise DocumentError(f"page {i + 1} cannot be decoded (truncated or corrupt): {e}") from None
            dpi = frame.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI))[0] or DEFAULT_DPI
            yield PageImage(index=i + 1, image=rgb, dpi=float(dpi))
