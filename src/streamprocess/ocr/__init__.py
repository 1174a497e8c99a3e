"""OCR: images and PDFs in, text with layout out.

Stages, one module each: :mod:`.inputs` (pages from images and PDFs, limits), :mod:`.engines` (PP-OCR through
rapidocr, Tesseract), :mod:`.scripts` (which script each line is in, and which engine reads it), :mod:`.gutters`
and :mod:`.layout` (column gutters, reading order), :mod:`.tables` (cell grids, from :mod:`.rules` where the table is
ruled), :mod:`.regions` (titles, paragraphs, lists, captions, headers and footers), :mod:`.forms` (key–value pairs,
checkboxes), :mod:`.engine` (the page through them all), :mod:`.formats` (JSON, text, Markdown, tables as HTML, hOCR,
searchable PDF). Nothing here knows of queues, storage or HTTP.
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
