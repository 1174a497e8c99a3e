"""Seeded bad inputs for the reliability suite: small valid media made here, then damaged on purpose.

:func:`generate` returns ``n`` :class:`BadInput`s for a ``random.Random(seed)``: first every crafted case once
(empty and zero-filled files, magic bytes with nothing behind them, huge declared dimensions and decompression
bombs, FLAC without a length, audio over the duration limit, self-referential, encrypted and giant-page PDFs,
well-formed files under the wrong extension, ...), then random mutations of the valid seeds (truncated,
bit-flipped, zeroed or overwritten spans, a valid header on random bytes, spliced, concatenated). Names are
odd one time in three (spaces, Unicode, very long, leading dashes, ``..`` look-alikes, shell metacharacters).

Each input carries its ``recipe`` (enough to rebuild it by hand) and, for the crafted cases, the outcomes it may
end in (``succeeded`` or an error code); a random mutation may end in any clear outcome.

The valid seeds are small on purpose (1 s of audio, images of a few hundred pixels, one-page PDFs): those that
survive their damage run through the real engines, and 2 CI cores must get through a thousand of them.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

#: The error codes a bad input may end in: each says what was wrong with the input.
INPUT_ERROR_CODES = frozenset(
    {
        "unsupported_media",  # not media at all (sniffed from the bytes), or media of the other kind than was asked
        "corrupt_media",  # truncated, damaged, undecodable
        "no_audio",  # a container without an audio stream, or one without samples
        "bad_audio",
        "audio_too_long",  # over STREAMPROCESS_STT_MAX_DURATION (by its header, or while decoding)
        "page_too_large",  # over STREAMPROCESS_OCR_MAX_PIXELS or Pillow's decompression-bomb limit
        "too_many_pages",
        "encrypted_pdf",
        "file_too_large",
        "unreadable_input",
        "invalid_key",
    }
)
SUCCEEDED = "succeeded"

AUDIO_EXT = ("wav", "flac", "ogg", "mp3", "m4a", "webm", "opus", "aac", "mp4")
IMAGE_EXT = ("png", "jpg", "jpeg", "tif", "tiff", "gif", "webp", "bmp", "jp2")
DOC_EXT = ("pdf",)


@dataclass(frozen=True)
class BadInput:
    name: str  # the file name, possibly odd (no '/', never hidden or a partial-download name)
    data: bytes
    recipe: str  # how it was made: seed and mutation
    family: str  # audio, image, pdf or other: what it was before the damage
    expect: frozenset[str] | None = None  # crafted cases: the outcomes allowed; None: any clear outcome

    def describe(self) -> str:
        return f"{self.name!r} ({len(self.data)} bytes; {self.recipe})"


# ---------------------------------------------------------------------------------------------- valid seeds
def _tone(seconds: float, rate: int, rng: np.random.Generator, channels: int = 1) -> np.ndarray:
    """A quiet chirp with noise and a click or two: not speech, but not silence either (s16, shape (ch, n))."""
    t = np.arange(int(seconds * rate)) / rate
    x = 0.2 * np.sin(2 * np.pi * (220 + 300 * t) * t) + 0.02 * rng.standard_normal(t.size)
    x[:: max(1, rate // 3)] = 0.9
    return (np.clip(np.tile(x, (channels, 1)), -1, 1) * 32767).astype(np.int16)


def encode_audio(
    container: str,
    codec: str,
    *,
    rate: int = 16000,
    seconds: float = 1.0,
    channels: int = 1,
    silence: bool = False,
    sample_fmt: str = "s16",
    seed: int = 0,
) -> bytes:
    import av

    samples = (
        np.zeros((channels, int(seconds * rate)), np.int16)
        if silence
        else _tone(seconds, rate, np.random.default_rng(seed), channels)
    )
    layout = "mono" if channels == 1 else "stereo"
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream: Any = out.add_stream(codec, rate=rate, layout=layout)
        if codec == "vorbis":  # FFmpeg's own Vorbis encoder counts as experimental
            stream.codec_context.options = {"strict": "experimental"}
        if sample_fmt != "s16":
            stream.format = sample_fmt
        step = 4096
        for i in range(0, samples.shape[1], step):
            chunk = np.ascontiguousarray(samples[:, i : i + step].T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def encode_video_only() -> bytes:
    """An MP4 with one short video stream and no audio."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            img = np.full((48, 64, 3), i * 40, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def _page(size: tuple[int, int] = (240, 80), text: str = "Bad input 42"):  # type: ignore[no-untyped-def]
    from PIL import Image, ImageDraw

    im = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(im)
    d.text((8, size[1] // 3), text, fill="black")
    if min(size) > 8:
        d.rectangle((2, 2, size[0] - 3, size[1] - 3), outline=(200, 30, 30))
    return im


def save_image(im, fmt: str, **kw) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _image_seeds() -> dict[str, bytes]:
    from PIL import Image

    rgb = _page()
    out = {
        "png-RGB": save_image(rgb, "PNG"),
        "png-P": save_image(rgb.convert("P"), "PNG"),
        "png-LA": save_image(rgb.convert("LA"), "PNG"),
        "png-1": save_image(rgb.convert("1"), "PNG"),
        "png-I16": save_image(rgb.convert("I").point(lambda v: v * 200).convert("I;16"), "PNG"),
        "png-RGBA-interlaced": save_image(rgb.convert("RGBA"), "PNG", optimize=False),
        "jpeg-RGB": save_image(rgb, "JPEG", quality=85),
        "jpeg-progressive": save_image(rgb, "JPEG", quality=80, progressive=True),
        "jpeg-L": save_image(rgb.convert("L"), "JPEG"),
        "jpeg-CMYK": save_image(rgb.convert("CMYK"), "JPEG"),
        "tiff-RGB-lzw": save_image(rgb, "TIFF", compression="tiff_lzw"),
        "tiff-1-g4": save_image(rgb.convert("1"), "TIFF", compression="group4"),
        "tiff-CMYK": save_image(rgb.convert("CMYK"), "TIFF"),
        "tiff-I16": save_image(rgb.convert("I;16"), "TIFF"),
        "tiff-3pages": save_image(
            rgb, "TIFF", save_all=True, append_images=[_page(text="page two"), _page(text="page three")]
        ),
        "gif": save_image(rgb.convert("P"), "GIF"),
        "gif-animated": save_image(
            rgb.convert("P"), "GIF", save_all=True, append_images=[_page(text="frame 2").convert("P")], duration=100
        ),
        "webp-lossy": save_image(rgb, "WEBP", quality=70),
        "webp-lossless": save_image(rgb.convert("RGBA"), "WEBP", lossless=True),
        "bmp-RGB": save_image(rgb, "BMP"),
        "bmp-1": save_image(rgb.convert("1"), "BMP"),
        "bmp-P": save_image(rgb.convert("P"), "BMP"),
        "jp2": save_image(rgb, "JPEG2000"),
    }
    # EXIF orientation 6 (rotate on load)
    exif = Image.Exif()
    exif[0x0112] = 6
    out["jpeg-exif-rotated"] = save_image(rgb, "JPEG", exif=exif.tobytes())
    return out


# -- PDFs written by hand, so that every object can be made wrong
def raw_pdf(objects: dict[int, bytes], root: int = 1, *, trailer_extra: bytes = b"", xref: bool = True) -> bytes:
    """A PDF file of numbered objects (bodies without ``obj``/``endobj``), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = out.tell()
        out.write(b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n")
    start = out.tell()
    size = max(objects) + 1
    if xref:
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for num in range(1, size):
            out.write(b"%010d 00000 n \n" % offsets[num] if num in offsets else b"0000000000 65535 f \n")
    out.write(b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (size, root, trailer_extra, start))
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


TEXT_CONTENT = b"BT /F1 18 Tf 36 40 Td (Bad input 42) Tj ET"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def text_pdf(media_box: bytes = b"[0 0 300 100]", content: bytes = TEXT_CONTENT) -> bytes:
    return raw_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R /MediaBox "
            + media_box
            + b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            4: FONT,
            5: _stream(content),
        }
    )


def _pdf_seeds() -> dict[str, bytes]:
    import pikepdf

    out = {
        "pdf-text": text_pdf(),
        "pdf-image": save_image(_page(), "PDF", resolution=72.0),
        "pdf-2pages-pillow": save_image(
            _page(), "PDF", resolution=72.0, save_all=True, append_images=[_page(text="second page")]
        ),
    }
    pdf = pikepdf.open(io.BytesIO(out["pdf-text"]))
    buf = io.BytesIO()
    pdf.save(buf, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    out["pdf-objstreams"] = buf.getvalue()
    return out


@functools.cache
def seeds() -> dict[str, tuple[str, bytes]]:
    """Every valid seed: name → (family, bytes). Deterministic (the random content has a fixed seed)."""
    audio = {
        "wav-s16-16k": encode_audio("wav", "pcm_s16le"),
        "wav-stereo-44k": encode_audio("wav", "pcm_s16le", rate=44100, channels=2),
        "wav-u8-8k": encode_audio("wav", "pcm_u8", rate=8000, sample_fmt="u8"),
        "wav-mulaw": encode_audio("wav", "pcm_mulaw", rate=8000),
        "flac": encode_audio("flac", "flac"),
        "ogg-opus": encode_audio("ogg", "libopus", rate=48000),
        "ogg-vorbis": encode_audio("ogg", "vorbis", rate=44100, channels=2, sample_fmt="fltp"),
        "mp3": encode_audio("mp3", "libmp3lame", rate=16000),
        "m4a-aac": encode_audio("ipod", "aac", rate=16000),
        "adts-aac": encode_audio("adts", "aac", rate=16000),
        "webm-opus": encode_audio("webm", "libopus", rate=48000),
        "aiff": encode_audio("aiff", "pcm_s16be"),
        "caf": encode_audio("caf", "pcm_s16le"),
        "wavpack": encode_audio("wv", "wavpack"),
    }
    out: dict[str, tuple[str, bytes]] = {k: ("audio", v) for k, v in audio.items()}
    out.update({k: ("image", v) for k, v in _image_seeds().items()})
    out.update({k: ("pdf", v) for k, v in _pdf_seeds().items()})
    return out


# ---------------------------------------------------------------------------------------------- crafted cases
def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int, *, idat: bool = True) -> bytes:
    """A 1-bit greyscale PNG of ``width``×``height`` whose pixel data (all zero) is compressed to almost nothing;
    without ``idat`` only the header declares the size."""
    head = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
    body = b""
    if idat:
        row = b"\x00" * (1 + (width + 7) // 8)
        z = zlib.compressobj(9)
        parts = [z.compress(row) for _ in range(height)]
        body = png_chunk(b"IDAT", b"".join(parts) + z.flush())
    return head + body + png_chunk(b"IEND", b"")


def jpeg_huge(width: int, height: int) -> bytes:
    """A valid small JPEG whose frame header (SOF0) is rewritten to declare ``width``×``height``."""
    data = bytearray(save_image(_page((16, 16)), "JPEG"))
    i = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, i + 5, height, width)
    return bytes(data)


def gif_huge() -> bytes:
    data = bytearray(save_image(_page((16, 16)).convert("P"), "GIF"))
    struct.pack_into("<HH", data, 6, 65535, 65535)  # logical screen
    return bytes(data)


def bmp_huge(width: int, height: int) -> bytes:
    data = bytearray(save_image(_page((16, 16)), "BMP"))
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)


def webp_huge(width: int, height: int) -> bytes:
    """A lossless WebP whose extended header (VP8X) declares a ``width``×``height`` canvas."""
    lossless = save_image(_page((16, 16)).convert("RGBA"), "WEBP", lossless=True)
    assert lossless[12:16] == b"VP8L"
    vp8x = (
        b"VP8X"
        + struct.pack("<I", 10)
        + bytes([0x10, 0, 0, 0])
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    body = b"WEBP" + vp8x + lossless[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tiff_huge() -> bytes:
    """A TIFF whose first IFD declares 100000×100000 (tags 256/257 rewritten in place)."""
    data = bytearray(save_image(_page((16, 16)), "TIFF"))
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        e = ifd + 2 + 12 * k
        tag, typ = struct.unpack_from("<HH", data, e)
        if tag in (256, 257):
            if typ == 3:
                struct.pack_into("<HHIH", data, e, tag, 4, 1, 0)  # SHORT → LONG
            struct.pack_into("<HHII", data, e, tag, 4, 1, 100000)
    return bytes(data)


def flac_total_samples(data: bytes, total: int) -> bytes:
    """Rewrite STREAMINFO's 36-bit total-samples field (0: unknown length); the MD5 is zeroed too (unknown)."""
    b = bytearray(data)
    assert b[:4] == b"fLaC" and b[4] & 0x7F == 0
    si = 8  # STREAMINFO body
    packed = int.from_bytes(b[si + 10 : si + 18], "big")  # rate(20) ch(3) bps(5) total(36)
    packed = (packed & ~((1 << 36) - 1)) | (total & ((1 << 36) - 1))
    b[si + 10 : si + 18] = packed.to_bytes(8, "big")
    b[si + 18 : si + 34] = bytes(16)
    return bytes(b)


def wav_header(
    *,
    channels: int = 1,
    rate: int = 16000,
    bits: int = 16,
    data_size: int = 0,
    riff_size: int | None = None,
    fmt_tag: int = 1,
) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    riff = riff_size if riff_size is not None else 4 + 8 + len(fmt) + 8 + data_size
    return (
        b"RIFF"
        + struct.pack("<I", riff & 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", data_size & 0xFFFFFFFF)
    )


def encrypted_pdf(user: str, owner: str = "owner", *, aes: bool = True, r: Literal[2, 3, 4, 5, 6] = 6) -> bytes:
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(text_pdf()))
    buf = io.BytesIO()
    pdf.save(buf, static_id=True, encryption=pikepdf.Encryption(user=user, owner=owner, R=r, aes=aes, metadata=r >= 4))
    return buf.getvalue()


def many_pages_pdf(n: int, media_box: bytes = b"[0 0 300 100]") -> bytes:
    """``n`` pages sharing one content stream (a few bytes each)."""
    kids = b" ".join(b"%d 0 R" % (10 + i) for i in range(n))
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n,
        4: FONT,
        5: _stream(TEXT_CONTENT),
    }
    for i in range(n):
        objects[10 + i] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox "
            + media_box
            + b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
        )
    return raw_pdf(objects)


PAGE3 = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
)


def looping_pdfs() -> dict[str, bytes]:
    """Page trees that refer to themselves, in the ways a damaged or hostile file can."""
    common = {4: FONT, 5: _stream(TEXT_CONTENT)}
    return {
        "pdf-pages-kids-self": raw_pdf(
            {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>", **common}
        ),
        "pdf-pages-kids-self-and-page": raw_pdf(
            {
                1: b"<< /Type /Catalog /Pages 2 0 R >>",
                2: b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                3: PAGE3,
                **common,
            }
        ),
        "pdf-pages-cycle-of-two": raw_pdf(
            {
                1: b"<< /Type /Catalog /Pages 2 0 R >>",
                2: b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>",
                6: b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
                **common,
            }
        ),
        "pdf-kids-is-catalog": raw_pdf(
            {1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [1 0 R] /Count 1 >>", **common}
        ),
        "pdf-count-huge": raw_pdf(
            {
                1: b"<< /Type /Catalog /Pages 2 0 R >>",
                2: b"<< /Type /Pages /Kids [3 0 R] /Count 2147483647 >>",
                3: PAGE3,
                **common,
            }
        ),
        "pdf-page-kid-twice": raw_pdf(
            {
                1: b"<< /Type /Catalog /Pages 2 0 R >>",
                2: b"<< /Type /Pages /Kids [3 0 R 3 0 R 3 0 R] /Count 3 >>",
                3: PAGE3,
                **common,
            }
        ),
        "pdf-deep-tree": _deep_pdf(3000),
        "pdf-ref-to-self": raw_pdf(
            {
                1: b"<< /Type /Catalog /Pages 2 0 R >>",
                2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                3: b"<< /Type /Page /Parent 2 0 R /MediaBox 3 0 R /Contents 3 0 R >>",
                **common,
            }
        ),
        "pdf-xref-loop": _xref_loop_pdf(),
        "pdf-no-pages": raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R >>", 2: b"<< /Type /Pages /Kids [] /Count 0 >>"}),
        "pdf-root-missing": raw_pdf({1: b"<< /Type /Catalog /Pages 2 0 R >>"}, root=9),
    }


def _deep_pdf(depth: int) -> bytes:
    objects = {1: b"<< /Type /Catalog /Pages 10 0 R >>", 4: FONT, 5: _stream(TEXT_CONTENT)}
    for d in range(depth):
        num = 10 + d
        parent = b"/Parent %d 0 R " % (num - 1) if d else b""
        objects[num] = b"<< /Type /Pages " + parent + b"/Kids [%d 0 R] /Count 1 >>" % (num + 1)
    objects[10 + depth] = PAGE3.replace(b"/Parent 2 0 R", b"/Parent %d 0 R" % (9 + depth))
    return raw_pdf(objects)


def _xref_loop_pdf() -> bytes:
    """Incremental-update trailers whose /Prev points back at themselves."""
    base = text_pdf()
    start = int(base.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    return base.replace(b"trailer\n<< ", b"trailer\n<< /Prev %d " % start)


def pdf_with_bomb_stream(megabytes: int) -> bytes:
    """A page whose content stream inflates to ``megabytes`` MB of spaces."""
    z = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    data = b"".join(z.compress(chunk) for _ in range(megabytes)) + z.compress(TEXT_CONTENT) + z.flush()
    return raw_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: PAGE3,
            4: FONT,
            5: _stream(data, b"/Filter /FlateDecode "),
        }
    )


def pdf_with_huge_image() -> bytes:
    """An image XObject declaring 100000×100000 RGB with a few bytes of data."""
    img = _stream(
        zlib.compress(b"\x00" * 300),
        b"/Type /XObject /Subtype /Image /Width 100000 /Height 100000 "
        b"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode ",
    )
    return raw_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Resources << /XObject << /Im1 6 0 R "
            b">> >> /Contents 5 0 R >>",
            5: _stream(b"q 300 0 0 100 0 0 cm /Im1 Do Q"),
            6: img,
        }
    )


def crafted() -> list[tuple[str, str, bytes, frozenset[str] | None, str]]:
    """(recipe, family, bytes, expected outcomes, extension) for every hand-made case."""
    S, F = SUCCEEDED, "corrupt_media"
    any_fail = INPUT_ERROR_CODES
    seed = seeds()
    cases: list[tuple[str, str, bytes, frozenset[str] | None, str]] = []

    def add(recipe: str, family: str, data: bytes, expect: set[str] | frozenset[str] | None, ext: str) -> None:
        cases.append((recipe, family, data, None if expect is None else frozenset(expect), ext))

    # --- not media at all
    add("empty file (0 bytes)", "other", b"", {"unsupported_media"}, "wav")
    add("empty file (0 bytes) named .pdf", "other", b"", {"unsupported_media"}, "pdf")
    add("one zero byte", "other", b"\0", {"unsupported_media"}, "png")
    add("4096 zero bytes", "other", bytes(4096), {"unsupported_media"}, "mp3")
    add("64 KiB of 0xFF", "other", b"\xff" * 65536, {"unsupported_media", F, "no_audio"}, "mp3")
    add("plain text", "other", b"hello, this is not media\n" * 10, {"unsupported_media"}, "txt")
    add("HTML", "other", b"<!doctype html><html><body>not media</body></html>", {"unsupported_media"}, "html")
    add("JSON", "other", b'{"Records": []}', {"unsupported_media"}, "json")
    add("ZIP of a PNG", "other", _zip({"a.png": seed["png-RGB"][1]}), {"unsupported_media"}, "png")
    add("gzip", "other", _gzip(b"x" * 1000), {"unsupported_media"}, "gz")
    add("ELF header", "other", b"\x7fELF\x02\x01\x01" + bytes(120), {"unsupported_media"}, "wav")
    add("shell script", "other", b"#!/bin/sh\nrm -rf /\n", {"unsupported_media"}, "sh")
    # --- a magic number and nothing behind it
    for magic, fam, ext in (
        (b"%PDF-1.7\n", "pdf", "pdf"),
        (b"\x89PNG\r\n\x1a\n", "image", "png"),
        (b"\xff\xd8\xff\xe0", "image", "jpg"),
        (b"GIF89a", "image", "gif"),
        (b"II*\x00", "image", "tif"),
        (b"MM\x00*", "image", "tif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image", "webp"),
        (b"BM", "image", "bmp"),
        (b"RIFF\x24\x00\x00\x00WAVE", "audio", "wav"),
        (b"fLaC", "audio", "flac"),
        (b"OggS\x00\x02", "audio", "ogg"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio", "mp3"),
        (b"\xff\xfb\x90\x00", "audio", "mp3"),
        (b"\x1a\x45\xdf\xa3", "audio", "webm"),
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00", "audio", "m4a"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "image", "jp2"),
    ):
        add(f"magic bytes only: {magic!r}", fam, magic, any_fail, ext)
        add(f"magic bytes then 2 KiB of zeros: {magic!r}", fam, magic + bytes(2048), any_fail, ext)
    # --- huge declared dimensions, decompression bombs
    add(
        "PNG header declaring 100000x100000 (no pixel data)",
        "image",
        png_bomb(100000, 100000, idat=False),
        {"page_too_large"},
        "png",
    )
    add(
        "PNG decompression bomb 20000x20000 (1-bit zeros, compressed)",
        "image",
        png_bomb(20000, 20000),
        {"page_too_large"},
        "png",
    )
    add(
        "PNG decompression bomb 8000x8000 (64 MP: under Pillow's limit, over max_pixels)",
        "image",
        png_bomb(8000, 8000),
        {"page_too_large"},
        "png",
    )
    add("PNG 4000x4000 of zeros (16 MP, within limits: decoded and OCRed)", "image", png_bomb(4000, 4000), {S}, "png")
    add("PNG declaring 0x0", "image", png_bomb(0, 0, idat=False), {F}, "png")
    add("PNG 1x1", "image", save_image(_page((1, 1)), "PNG"), {S}, "png")
    add("PNG 1x20000 (a line)", "image", png_bomb(1, 20000), {S, "page_too_large"}, "png")
    add("JPEG SOF declaring 65000x65000", "image", jpeg_huge(65000, 65000), {"page_too_large", F}, "jpg")
    add("JPEG SOF declaring 0x0", "image", jpeg_huge(0, 0), {F}, "jpg")
    add("GIF logical screen 65535x65535", "image", gif_huge(), {"page_too_large", F}, "gif")
    add("BMP declaring 100000x100000", "image", bmp_huge(100000, 100000), {"page_too_large", F}, "bmp")
    add("BMP declaring 100000x-100000 (top-down)", "image", bmp_huge(100000, -100000), {"page_too_large", F}, "bmp")
    add("TIFF IFD declaring 100000x100000", "image", tiff_huge(), {"page_too_large", F}, "tif")
    add("WebP VP8X canvas declaring 16384x16384", "image", webp_huge(16384, 16384), {"page_too_large", F}, "webp")
    add(
        "TIFF of 600 pages (over max_pages)",
        "image",
        save_image(_page((8, 8)), "TIFF", save_all=True, append_images=[_page((8, 8))] * 599),
        {"too_many_pages"},
        "tif",
    )
    # --- PDFs: self-referential, encrypted, giant pages, bombs
    for name, data in looping_pdfs().items():
        # A tree with no way down to a page is corrupt; PDFium repairs the rest (a wrong /Count, a page listed
        # twice, a /MediaBox that is the page itself, an xref /Prev loop) and reads the page it finds.
        repairable = any(w in name for w in ("count", "twice", "ref-to-self", "xref-loop"))
        add(name, "pdf", data, {S, F, "too_many_pages"} if repairable else {F}, "pdf")
    add("PDF encrypted: user password, AES-256", "pdf", encrypted_pdf("secret"), {"encrypted_pdf"}, "pdf")
    add(
        "PDF encrypted: user password, RC4-128",
        "pdf",
        encrypted_pdf("secret", aes=False, r=3),
        {"encrypted_pdf"},
        "pdf",
    )
    add("PDF encrypted: owner password only (opens without one)", "pdf", encrypted_pdf(""), {S}, "pdf")
    add("PDF with a 1e6 x 1e6 pt MediaBox", "pdf", text_pdf(b"[0 0 1000000 1000000]"), {"page_too_large"}, "pdf")
    add("PDF with a 0x0 MediaBox", "pdf", text_pdf(b"[0 0 0 0]"), {S, F}, "pdf")
    add("PDF with a negative MediaBox", "pdf", text_pdf(b"[0 0 -300 -100]"), {S, F, "page_too_large"}, "pdf")
    add("PDF with a MediaBox of strings", "pdf", text_pdf(b"[(a) (b) (c) (d)]"), {S, F}, "pdf")
    add("PDF of 600 pages (over max_pages)", "pdf", many_pages_pdf(600), {"too_many_pages"}, "pdf")
    add("PDF with a content stream inflating to 64 MB", "pdf", pdf_with_bomb_stream(64), {S, F}, "pdf")
    add("PDF with an image declaring 100000x100000", "pdf", pdf_with_huge_image(), {S, F}, "pdf")
    add(
        "PDF without an xref table",
        "pdf",
        raw_pdf(
            {
                1: b"<< /Type /Catalog /Pages 2 0 R >>",
                2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                3: PAGE3,
                4: FONT,
                5: _stream(TEXT_CONTENT),
            },
            xref=False,
        ),
        {S, F},
        "pdf",
    )
    add("PDF header then a PNG", "pdf", b"%PDF-1.4\n" + seed["png-RGB"][1], {F}, "pdf")
    # --- audio: lengths that lie, no length, no audio
    flac = seed["flac"][1]
    add("FLAC with STREAMINFO total samples 0 (no length), 1 s", "audio", flac_total_samples(flac, 0), {S}, "flac")
    long_silence = encode_audio("flac", "flac", seconds=90, silence=True)
    add(
        "FLAC with no length, 90 s of silence (over the 60 s limit while decoding)",
        "audio",
        flac_total_samples(long_silence, 0),
        {"audio_too_long"},
        "flac",
    )
    add("FLAC 90 s of silence, length in the header", "audio", long_silence, {"audio_too_long"}, "flac")
    add(
        "FLAC declaring 2^36-1 samples, 1 s of data",
        "audio",
        flac_total_samples(flac, (1 << 36) - 1),
        {S, "audio_too_long"},
        "flac",
    )
    add(
        "WAV 90 s of silence at 8 kHz u8",
        "audio",
        encode_audio("wav", "pcm_u8", rate=8000, seconds=90, silence=True, sample_fmt="u8"),
        {"audio_too_long"},
        "wav",
    )
    add(
        "WAV data chunk declaring 4 GiB, 1 s of data",
        "audio",
        wav_header(data_size=0xFFFFFFFF, riff_size=0xFFFFFFFF) + seed["wav-s16-16k"][1][44:],
        {S, "audio_too_long"},
        "wav",
    )
    add("WAV header only, data size 0", "audio", wav_header(), {F, "no_audio"}, "wav")
    add("WAV with 0 channels", "audio", wav_header(channels=0, data_size=3200) + bytes(3200), {F, "no_audio"}, "wav")
    add("WAV with sample rate 0", "audio", wav_header(rate=0, data_size=3200) + bytes(3200), {F, "no_audio"}, "wav")
    add(
        "WAV with 1000 channels",
        "audio",
        wav_header(channels=1000, data_size=32000) + bytes(32000),
        {F, "no_audio", S},
        "wav",
    )
    add(
        "WAV with an unknown format tag",
        "audio",
        wav_header(fmt_tag=0x1234, data_size=3200) + bytes(3200),
        {F, "no_audio"},
        "wav",
    )
    add("MP4 with a video stream only", "audio", encode_video_only(), {"no_audio"}, "mp4")
    add(
        "ID3 tag declaring 256 MB, nothing else",
        "audio",
        b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + bytes(64),
        {F, "no_audio"},
        "mp3",
    )
    add(
        "Ogg page header then random bytes",
        "audio",
        b"OggS\x00\x02" + random.Random(7).randbytes(4000),
        {F, "no_audio"},
        "ogg",
    )
    # --- well-formed, wrong extension: the content decides
    for seed_name, ext in (
        ("png-RGB", "wav"),
        ("wav-s16-16k", "pdf"),
        ("pdf-text", "mp3"),
        ("flac", "jpg"),
        ("jpeg-RGB", "flac"),
        ("mp3", "png"),
        ("tiff-3pages", "m4a"),
        ("ogg-opus", "tif"),
    ):
        family, data = seed[seed_name]
        add(f"valid {seed_name} named .{ext}", family, data, {S}, ext)
    # --- two files in one
    add("PNG followed by a WAV", "image", seed["png-RGB"][1] + seed["wav-s16-16k"][1], {S}, "png")
    add("WAV followed by a PDF", "audio", seed["wav-s16-16k"][1] + seed["pdf-text"][1], {S}, "wav")
    return cases


def _zip(files: dict[str, bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


# ---------------------------------------------------------------------------------------------- random mutations
def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One random kind of damage; returns the damaged bytes and what was done."""
    n = len(data)
    keep = min(32, n // 4)  # most damage spares the magic number, so the file reaches its decoder
    kind = rng.choices(
        [
            "truncate",
            "truncate-tail",
            "bitflip",
            "bitflip-anywhere",
            "zero-span",
            "random-span",
            "ff-span",
            "header+random",
            "splice",
            "drop-span",
            "repeat",
        ],
        weights=[18, 6, 22, 4, 8, 8, 3, 10, 7, 8, 2],
    )[0]
    if kind == "truncate":
        cut = rng.randrange(1, n)
        return data[:cut], f"truncated to {cut} of {n} bytes"
    if kind == "truncate-tail":
        k = rng.randint(1, min(64, n - 1))
        return data[:-k], f"last {k} bytes cut"
    if kind in ("bitflip", "bitflip-anywhere"):
        flips = rng.choice([1, 2, 4, 8, 32, 128])
        b = bytearray(data)
        low = 0 if kind == "bitflip-anywhere" else keep
        positions = sorted(rng.randrange(low, n) for _ in range(flips))
        for p in positions:
            b[p] ^= 1 << rng.randrange(8)
        shown = ",".join(map(str, positions[:8])) + ("…" if flips > 8 else "")
        return bytes(b), f"{flips} bit(s) flipped at {shown}"
    if kind in ("zero-span", "random-span", "ff-span"):
        start = rng.randrange(keep, n)
        length = rng.randint(1, max(1, min(n - start, rng.choice([4, 64, 1024, n]))))
        fill = {"zero-span": bytes(length), "ff-span": b"\xff" * length}.get(kind) or rng.randbytes(length)
        return data[:start] + fill + data[start + length :], f"{kind} of {length} bytes at {start}"
    if kind == "header+random":
        h = rng.choice([4, 8, 16, 32, 64, 128])
        body = rng.randbytes(rng.choice([0, 16, 512, 4096, 32768]))
        return data[:h] + body, f"first {h} bytes then {len(body)} random bytes"
    if kind == "splice":
        a, b_ = sorted(rng.randrange(keep, n) for _ in range(2))
        at = rng.randrange(keep, n)
        return data[:at] + data[a:b_] + data[at:], f"bytes {a}:{b_} copied in at {at}"
    if kind == "drop-span":
        a = rng.randrange(keep, n)
        b_ = min(n, a + rng.randint(1, max(1, n // 4)))
        return data[:a] + data[b_:], f"bytes {a}:{b_} removed"
    times = rng.randint(2, 4)
    return data * times, f"whole file repeated {times} times"


# ---------------------------------------------------------------------------------------------- names
ODD_STEMS = [
    "my file",
    "  leading and trailing spaces  ",
    "tab\there",
    "new\nline",
    "back\\slash",
    "quote'single",
    'quote"double',
    "semi;colon",
    "$(reboot)",
    "`id`",
    "star*",
    "question?",
    "pipe|",
    "amp&amp",
    "100%",
    "%2e%2e%2f",
    "..%2f..%2fetc%2fpasswd",
    "a..b",
    "...",
    "..",
    "-",
    "-rf",
    "--help",
    "-n",
    "—em—dash",
    "ünïcödé",
    "日本語のファイル",
    "한국어",
    "plus+sign",
    "space%20encoded",
    "+",
    "emoji 🎙️📄",
    "\u202egnp.exe",
    "e\u0301 nfd",
    "zero\u200bwidth",
    "․․",
    "＼fullwidth／",
    "ﬁligature",
    "CON",
    "nul",
    "aux.",
    "name.",
    "#hash",
    "?query=1",
    "{brace}",
    "[bracket]",
    "<angle>",
    "~tilde",
    "=equals",
    "x" * 200,
    "ü" * 100,
    "a b/c",  # the '/' becomes a full-width one: a name, not a folder
]


def odd_name(rng: random.Random, ext: str, i: int) -> str:
    """A file name: one time in three an odd one. Never hidden (leading '.') or a partial-download name, which the
    drop folder leaves alone on purpose."""
    if rng.random() < 2 / 3:
        stem = f"bad-{i:04d}"
    else:
        stem = rng.choice(ODD_STEMS).replace("/", "／")
    roll = rng.random()
    if roll < 0.08:
        name = stem  # no extension
    elif roll < 0.14:
        name = f"{stem}.{ext}.{rng.choice(AUDIO_EXT + IMAGE_EXT + DOC_EXT)}"  # double extension
    elif roll < 0.30:
        name = f"{stem}.{rng.choice(AUDIO_EXT + IMAGE_EXT + DOC_EXT + ('txt', 'exe', 'EXE', 'WAV'))}"  # wrong one
    else:
        name = f"{stem}.{ext}"
    name = name.lstrip(".") or "dot"
    if name.endswith((".part", ".crdownload", ".tmp", "~")):
        name += "x"
    return name.encode()[:240].decode(errors="ignore")  # a file-system name: at most 255 bytes


_SEED_EXT = {
    "wav": "wav",
    "flac": "flac",
    "ogg": "ogg",
    "mp3": "mp3",
    "m4a": "m4a",
    "adts": "aac",
    "webm": "webm",
    "aiff": "aiff",
    "caf": "caf",
    "wavpack": "wv",
    "png": "png",
    "jpeg": "jpg",
    "tiff": "tif",
    "gif": "gif",
    "webp": "webp",
    "bmp": "bmp",
    "jp2": "jp2",
    "pdf": "pdf",
}


def seed_ext(seed_name: str) -> str:
    return _SEED_EXT[seed_name.split("-")[0]]


def generate(n: int, rng: random.Random) -> list[BadInput]:
    """``n`` bad inputs: every crafted case (once, while ``n`` allows), then random mutations of random seeds."""
    out: list[BadInput] = []
    for recipe, family, data, expect, ext in crafted():
        if len(out) >= n:
            break
        out.append(BadInput(odd_name(rng, ext, len(out)), data, recipe, family, expect))
    pool = sorted(seeds().items())
    while len(out) < n:
        seed_name, (family, data) = rng.choice(pool)
        damaged, how = mutate(data, rng)
        if rng.random() < 0.05:  # damage twice
            damaged, how2 = mutate(damaged, rng) if len(damaged) > 1 else (damaged, "")
            how = f"{how}, then {how2}"
        out.append(BadInput(odd_name(rng, seed_ext(seed_name), len(out)), damaged, f"{seed_name}: {how}", family))
    return out
