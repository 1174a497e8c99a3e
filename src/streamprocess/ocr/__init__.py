"""OCR: images and PDFs in, text with layout out.

Stages, one module each: :mod:`.inputs` (pages from images and PDFs, limits), :mod:`.engines` (PP-OCR through
rapidocr, Tesseract), :mod:`.layout` (reading order), :mod:`.engine` (routing by language, per page),
:mod:`.formats` (JSON, text, hOCR, searchable PDF). Nothing here knows of queues, storage or HTTP.
"""

from .engine import OcrEngine
from .inputs import DocumentError, EncryptedDocument, PageTooLarge, TooManyPages
from .options import OcrOptions
from .types import Block, Document, Line, Page, Word

__all__ = [
    "Block",
    "Document",
    "DocumentError",
    "EncryptedDocument",
    "Line",
    "OcrEngine",
    "OcrOptions",
    "Page",
    "PageTooLarge",
    "TooManyPages",
    "Word",
]
