"""Media kind from content, not names."""

from __future__ import annotations

import pytest

from streamprocess.errors import UnsupportedMedia
from streamprocess.media import SNIFF_BYTES, detect

from .helpers import SHARED_AUDIO, wav_bytes

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 64


@pytest.mark.parametrize(
    "head, kind, mime",
    [
        (PNG, "ocr", "image/png"),
        (JPEG, "ocr", "image/jpeg"),
        (PDF, "ocr", "application/pdf"),
        (TIFF, "ocr", "image/tiff"),
        (b"OggS\x00\x02" + b"\x00" * 60, "stt", "audio/ogg"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 60, "stt", "video/webm"),
    ],
)
def test_detects_by_magic_bytes(head: bytes, kind: str, mime: str) -> None:
    media = detect(head, "misleading-name.txt")  # the name never decides
    assert (media.kind, media.mime) == (kind, mime)


def test_wav_is_speech() -> None:
    assert detect(wav_bytes()[:SNIFF_BYTES]).kind == "stt"


@pytest.mark.parametrize(
    "name, mime",
    [
        ("jfk.flac", "audio/x-flac"),
        ("hotwords.mp3", "audio/mpeg"),
        ("multilingual.mp3", "audio/mpeg"),
        ("stereo_diarization.wav", "audio/x-wav"),
    ],
)
def test_real_recordings(name: str, mime: str) -> None:
    path = SHARED_AUDIO / name
    if not path.exists():
        pytest.skip(f"{path} is absent (shared test data lives beside the checkout)")
    media = detect(path.read_bytes()[:SNIFF_BYTES], name)
    assert (media.kind, media.mime) == ("stt", mime)


@pytest.mark.parametrize(
    "head, fragment",
    [
        (b"", "empty"),
        (b"hello, this is text\n", "unrecognised content"),
        (b"PK\x03\x04" + b"\x00" * 60, "application/zip"),
        (b"SQLite format 3\x00" + b"\x00" * 100, "sqlite"),
    ],
)
def test_other_content_is_refused_clearly(head: bytes, fragment: str) -> None:
    with pytest.raises(UnsupportedMedia, match=fragment) as e:
        detect(head, "song.wav")
    assert e.value.code == "unsupported_media"
