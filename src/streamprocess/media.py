"""Media kind from content (magic bytes), not from the file name.

The first bytes of an object decide whether it is audio/video (→ the ``stt`` queue) or an image/PDF
(→ the ``ocr`` queue). Video containers (MP4, WebM, Matroska) go to ``stt`` for their audio track.
"""

from __future__ import annotations

from dataclasses import dataclass

import filetype

from .errors import UnsupportedMedia
from .kinds import OCR, STT, KindName

#: How many leading bytes detection needs.
SNIFF_BYTES = 8192

#: The media types the OCR engine reads (any audio or video goes to speech-to-text: ``kinds.STT``).
_OCR_MIMES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/tiff",
    "image/bmp",
    "image/webp",
    "image/gif",
    "image/jpx",
}
_EXTRA_AUDIO = {"application/ogg": "audio/ogg"}


@dataclass(frozen=True)
class MediaType:
    kind: KindName
    mime: str
    extension: str | None


def _sniff_extra(head: bytes) -> tuple[str, str] | None:
    """Formats ``filetype`` misses: Opus/Vorbis in Ogg with odd headers, MPEG audio frames without ID3, WebM
    audio, and headerless ADTS AAC."""
    if head.startswith(b"OggS"):
        return "audio/ogg", "ogg"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        if (head[1] & 0xF6) == 0xF0:  # ADTS: 12-bit sync, layer 00
            return "audio/aac", "aac"
        if (head[1] >> 1) & 0x3:  # MPEG audio frame: 11-bit sync, layer 1-3
            return "audio/mpeg", "mp3"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm", "webm"
    return None


def detect(head: bytes, name: str | None = None) -> MediaType:
    """Classify the first :data:`SNIFF_BYTES` of a file; raises :class:`UnsupportedMedia` with what it found."""
    if not head:
        raise UnsupportedMedia("the file is empty (0 bytes)")
    kind = filetype.guess(head)
    mime, ext = (kind.mime, kind.extension) if kind else (None, None)
    if mime is None:
        extra = _sniff_extra(head)
        if extra:
            mime, ext = extra
    mime = _EXTRA_AUDIO.get(mime or "", mime)
    if mime in _OCR_MIMES:
        return MediaType(OCR.name, mime, ext)
    if mime and STT.accepts_content_type(mime):
        return MediaType(STT.name, mime, ext)
    suffix = f" (named {name!r})" if name else ""
    found = f"detected {mime}" if mime else "unrecognised content"
    raise UnsupportedMedia(
        f"not an audio, video, image or PDF file{suffix}: {found}; supported: "
        "WAV, MP3, M4A/AAC, FLAC, OGG/Opus, WebM, MP4 (speech) and PNG, JPEG, TIFF, BMP, WebP, GIF, PDF (OCR)"
    )
