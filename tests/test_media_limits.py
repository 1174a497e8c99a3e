"""Limits that must hold however a file lies about itself: audio that hides its length, PDFs with broken page trees."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from streamprocess.errors import PermanentError
from streamprocess.ocr.inputs import DocumentError, count_pages, load_pages
from streamprocess.stt.audio import SAMPLE_RATE, TooLong, load_audio, probe_duration

from .helpers import ROOT, SHARED_AUDIO, cli_env


# ---------------------------------------------------------------------------------------------- audio
def write_flac(path: Path, seconds: float, *, rate: int = 8000, unknown_length: bool = False) -> Path:
    """``seconds`` of a quiet 440 Hz tone (about 4 KB of FLAC a second at 8 kHz); ``unknown_length`` zeroes the
    STREAMINFO total-samples field, as a streaming encoder that cannot seek back leaves it."""
    chunk = rate * 10
    tone = (np.sin(2 * np.pi * 440 * np.arange(chunk) / rate) * 2000).astype(np.int16).reshape(1, -1)
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        for start in range(0, int(seconds * rate), chunk):
            frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    if unknown_length:
        data = bytearray(path.read_bytes())
        # 'fLaC', then STREAMINFO's 4-byte block header (type 0), then its 34 bytes: total samples are the low 4 bits
        # of byte 13 and bytes 14-17.
        assert data[:4] == b"fLaC" and data[4] & 0x7F == 0 and int.from_bytes(data[5:8], "big") == 34
        info = 8
        data[info + 13] &= 0xF0
        data[info + 14 : info + 18] = bytes(4)
        path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def hour_without_length(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = write_flac(tmp_path_factory.mktemp("flac") / "hour.flac", 3600, unknown_length=True)
    assert path.stat().st_size < 20_000_000 and probe_duration(path) is None  # small, and the header does not say
    return path


# Runs in a fresh interpreter: how far the peak resident set rose while load_audio (or the engine's transcribe) ran,
# in MiB. On Linux the kernel's peak (VmHWM) is first reset to the current resident set; elsewhere the baseline is the
# peak so far (ru_maxrss), which can only under-count.
_MEASURE = """
import json, resource, sys, time
from pathlib import Path
from streamprocess.stt import SttEngine
from streamprocess.stt.audio import load_audio

def peak_kib():
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

path, limit, engine = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "engine"
run = SttEngine(max_duration=limit).transcribe if engine else (lambda p: load_audio(p, max_duration=limit))
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
base = peak_kib()
start = time.monotonic()
try:
    run(path)
    code = "ok"
except Exception as e:
    code = getattr(e, "code", type(e).__name__)
print(json.dumps({"code": code, "seconds": time.monotonic() - start, "peak_mib": (peak_kib() - base) / 1024}))
"""


def measure(path: Path, limit: float, *, engine: bool = False) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), str(limit), "engine" if engine else "load"],
        env=cli_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("engine", [False, True], ids=["load_audio", "transcribe"])
def test_audio_without_a_length_stops_at_the_limit_in_bounded_memory(hour_without_length: Path, engine: bool) -> None:
    # An hour decodes to 57.6 M samples (230 MB as float32); decoding it all first took ~570 MB and then failed.
    # With a 60 s limit only 60 s × 16 kHz × 4 B = 3.8 MB may be kept, plus one decoded chunk.
    result = measure(hour_without_length, 60, engine=engine)
    assert result["code"] == "audio_too_long"
    assert result["peak_mib"] < 60, result
    assert result["seconds"] < 10, result


@pytest.mark.parametrize("limit, kept, code", [(1200, 1200, "audio_too_long"), (10800, 3600, "ok")])
def test_peak_memory_is_the_samples_kept(hour_without_length: Path, limit: float, kept: float, code: str) -> None:
    # The bound: min(limit, length) × 16 kHz × 4 B of float32 plus a constant (~35-45 MiB measured: codec state, one
    # decode group, first-use pages). 20 min keeps 73 MiB; the whole hour (under the default 3 h limit) keeps 220 MiB,
    # where decoding through faster_whisper.decode_audio took ~570 MiB.
    result = measure(hour_without_length, limit)
    samples_mib = kept * SAMPLE_RATE * 4 / 2**20
    assert result["code"] == code
    assert 0.8 * samples_mib < result["peak_mib"] < samples_mib + 60, result


def test_too_long_without_a_length_is_a_clear_permanent_error(tmp_path: Path) -> None:
    path = write_flac(tmp_path / "five-minutes.flac", 300, unknown_length=True)
    with pytest.raises(TooLong, match="over the 60 s limit") as e:
        load_audio(path, max_duration=60)
    assert isinstance(e.value, PermanentError) and e.value.code == "audio_too_long"
    assert load_audio(path, max_duration=300).size == 300 * SAMPLE_RATE  # at the limit is allowed
    assert load_audio(path).size == 300 * SAMPLE_RATE  # no limit, no header: still decodes whole


def _reference_decode(path: Path) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    return decode_audio(str(path), sampling_rate=SAMPLE_RATE)


@pytest.mark.parametrize("name", ["jfk.flac", "hotwords.mp3", "stereo_diarization.wav", "tone-44k.flac"])
def test_normal_files_decode_to_the_same_samples(tmp_path: Path, name: str) -> None:
    if name == "tone-44k.flac":
        path = write_flac(tmp_path / name, 75, rate=44100)  # over one 500 000-sample decode group
    else:
        path = SHARED_AUDIO / name
        if not path.exists():
            pytest.skip(f"{path} is absent (the shared recordings live beside the checkout)")
    expected = _reference_decode(path)
    for limit in (None, 3600.0):
        got = load_audio(path, max_duration=limit)
        assert got.dtype == np.float32 and got.ndim == 1
        assert np.array_equal(got, expected), name


# ---------------------------------------------------------------------------------------------- PDFs
def _blank_pdf(pages: int = 2):  # type: ignore[no-untyped-def]
    import pikepdf

    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(200, 200))
    return pdf


def _cycle_between_two_pages_nodes(path: Path) -> Path:
    import pikepdf

    pdf = _blank_pdf()
    top = pdf.Root.Pages
    inner = pdf.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Pages, Kids=pikepdf.Array([top]), Count=3, Parent=top)
    )
    top.Kids.insert(0, inner)
    top.Count = 5
    pdf.save(path)
    return path


def _pages_node_is_its_own_kid(path: Path) -> Path:
    pdf = _blank_pdf()
    top = pdf.Root.Pages
    top.Kids.insert(0, top)
    top.Count = 5
    pdf.save(path)
    return path


def _only_kid_is_itself(path: Path) -> Path:
    import pikepdf

    pdf = _blank_pdf(1)
    top = pdf.Root.Pages
    top.Kids = pikepdf.Array([top])
    top.Count = 1
    pdf.save(path)
    return path


def _deep_chain_ending_in_a_loop(path: Path) -> Path:
    import pikepdf

    pdf = _blank_pdf(1)
    page = pdf.Root.Pages.Kids[0]
    top = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Pages, Count=400))
    node = top
    for _ in range(2000):
        child = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Pages, Count=400))
        node.Kids = pikepdf.Array([child, child, page])
        node = child
    node.Kids = pikepdf.Array([top, top])
    pdf.Root.Pages = top
    pdf.save(path)
    return path


def _page_is_its_own_parent(path: Path) -> Path:
    pdf = _blank_pdf()
    page = pdf.Root.Pages.Kids[0]
    del page.MediaBox  # so a reader climbs /Parent to inherit it
    page.Parent = page
    pdf.save(path)
    return path


def _text_pdf(path: Path) -> Path:
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(page).text((20, 20), "Hello, page tree", fill="black")
    page.save(path, "PDF", resolution=100, save_all=True, append_images=[page.copy()])
    return path


def _consume(path: Path) -> int:
    count_pages(path)
    return sum(1 for _ in load_pages(path, text_layer=True))


@pytest.mark.parametrize(
    "make",
    [_cycle_between_two_pages_nodes, _pages_node_is_its_own_kid, _only_kid_is_itself, _deep_chain_ending_in_a_loop],
)
def test_looping_page_tree_is_corrupt_media_at_once(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path / f"{make.__name__}.pdf")
    start = time.monotonic()
    try:
        pages = _consume(path)
    except PermanentError as e:
        assert isinstance(e, DocumentError) and e.code == "corrupt_media", e
    else:
        # A reader may recover the real pages and skip the loop; then every page it gives is a real one.
        assert 1 <= pages <= 2
    assert time.monotonic() - start < 10


def test_the_page_tree_loop_pdfium_cannot_load_is_corrupt_media(tmp_path: Path) -> None:
    from streamprocess.ocr import OcrEngine

    path = _cycle_between_two_pages_nodes(tmp_path / "cycle.pdf")
    with pytest.raises(DocumentError, match="page 1") as e:
        _consume(path)
    assert e.value.code == "corrupt_media"
    with pytest.raises(PermanentError) as e:  # what the ocr processor calls: the job fails at once, no retries
        OcrEngine().process(path, progress=lambda done, total: None)
    assert e.value.code == "corrupt_media"


def test_a_page_that_is_its_own_parent_is_not_an_internal_error(tmp_path: Path) -> None:
    path = _page_is_its_own_parent(tmp_path / "parent.pdf")
    try:
        _consume(path)
    except PermanentError as e:
        assert e.code == "corrupt_media"


def test_truncated_and_bit_flipped_pdfs_are_corrupt_media_never_internal(tmp_path: Path) -> None:
    import pikepdf

    plain = _text_pdf(tmp_path / "plain.pdf")
    packed = tmp_path / "packed.pdf"
    with pikepdf.open(plain) as pdf:
        pdf.save(packed, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    rng = random.Random(11)
    cases: list[bytes] = []
    for source in (plain, packed):
        data = source.read_bytes()
        cases += [data[:cut] for cut in range(16, len(data), max(1, len(data) // 40))]
        for _ in range(150):
            flipped = bytearray(data)
            for _ in range(rng.choice([1, 2, 8])):
                pos = rng.randrange(len(flipped))
                flipped[pos] ^= 1 << rng.randrange(8)
            cases.append(bytes(flipped))
    outcomes: dict[str, int] = {}
    path = tmp_path / "case.pdf"
    start = time.monotonic()
    for data in cases:
        path.write_bytes(data)
        try:
            _consume(path)
            key = "ok"
        except PermanentError as e:
            key = e.code
        except Exception as e:  # counted, then reported below
            key = f"{type(e).__name__}: {e}"
        outcomes[key] = outcomes.get(key, 0) + 1
    assert set(outcomes) <= {"ok", "corrupt_media"}, outcomes
    assert outcomes.get("corrupt_media", 0) > 40, outcomes
    assert time.monotonic() - start < 60


# ---------------------------------------------------------------------------------------------- Whisper features
_FEATURES = """
import json, sys
import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor
from streamprocess.stt.features import ChunkedFeatureExtractor

audio = np.zeros(int(float(sys.argv[1]) * 60 * 16000), dtype=np.float32)
audio[::7] = 0.1
stock = FeatureExtractor()
extractor = stock if sys.argv[2] == "stock" else ChunkedFeatureExtractor.like(stock)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
def peak_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
base = peak_kib()
features = extractor(audio, chunk_length=30)
print(json.dumps({"frames": features.shape[1], "peak_mib": (peak_kib() - base) / 1024}))
"""


def test_whisper_features_of_a_long_recording_take_bounded_memory() -> None:
    """The stock extractor holds the whole STFT (~50 MiB per minute: 1.5 GB for 30 min, 9 GB for the 3-hour
    limit); the jobs' extractor computes it in 30-s blocks: the output (1.15 MiB a minute) plus ~45 MiB."""

    def run(minutes: float, which: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-c", _FEATURES, str(minutes), which],
            env=cli_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout)

    stock, chunked = run(10, "stock"), run(30, "chunked")
    assert stock["peak_mib"] > 400  # what it was: 10 minutes already cost ~500 MiB
    assert chunked["frames"] == 30 * 60 * 100 + 1
    assert chunked["peak_mib"] < 30 * 1.15 + 80, chunked


@pytest.mark.parametrize("samples", [100, 161, 400, 16000, 480000 - 7, 960123])
def test_block_features_equal_the_stock_ones(samples: int) -> None:
    from faster_whisper.feature_extractor import FeatureExtractor

    from streamprocess.stt.features import ChunkedFeatureExtractor

    audio = (np.random.default_rng(samples).standard_normal(samples) * 0.1).astype(np.float32)
    stock = FeatureExtractor()
    expected, got = stock(audio), ChunkedFeatureExtractor.like(stock)(audio)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_jobs_models_use_the_block_extractor() -> None:
    from streamprocess.stt import models
    from streamprocess.stt.features import ChunkedFeatureExtractor

    model = models.load(models.resolve("default", "cpu", "int8", 1))
    assert isinstance(model.feature_extractor, ChunkedFeatureExtractor)


# ---------------------------------------------------------------------------------------------- image frames
def _gif_descriptors(d: bytes) -> list[int]:
    """Offsets of a GIF's image descriptors (0x2C), walking its blocks."""
    pos = 13 + (3 * 2 ** ((d[10] & 7) + 1) if d[10] & 0x80 else 0)
    out = []
    while pos < len(d) and d[pos] in (0x21, 0x2C):
        if d[pos] == 0x2C:
            out.append(pos)
            flags, pos = d[pos + 9], pos + 10
            pos += (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1  # local colour table, LZW code size
        else:
            pos += 2
        while d[pos]:
            pos += d[pos] + 1
        pos += 1
    return out


def test_a_later_gif_frame_declaring_a_huge_size_is_page_too_large(tmp_path: Path) -> None:
    """Found by the bad-inputs suite (seed 741028833): Pillow refuses the frame as a decompression bomb only when
    it is reached, which escaped as internal_error."""
    import io

    from PIL import Image

    from streamprocess.errors import PermanentError
    from streamprocess.ocr.inputs import load_pages

    buf = io.BytesIO()
    Image.new("L", (8, 8), 0).save(buf, "GIF", save_all=True, append_images=[Image.new("L", (8, 8), 255)])
    data = bytearray(buf.getvalue())
    second = _gif_descriptors(bytes(data))[1]
    data[second + 5 : second + 9] = b"\xff\xff\xff\xff"  # frame 2 is 65535 × 65535
    path = tmp_path / "bomb.gif"
    path.write_bytes(bytes(data))
    with pytest.raises(PermanentError) as caught:
        list(load_pages(path))
    assert caught.value.code == "page_too_large" and "page 2" in caught.value.message
