"""Speech-to-text: accuracy on real and synthesized speech, subtitle formats, options and bad inputs."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from streamprocess.stt import CorruptAudio, NoAudio, SttEngine, TooLong, TranscribeOptions, Transcript
from streamprocess.stt.formats import to_srt, to_txt, to_vtt
from streamprocess.stt.models import ModelUnavailable, bundled_model_path
from streamprocess.stt.options import InvalidOptions

from .helpers import JFK, ROOT, cli, cli_env, shared, write_wav
from .scoring import wer

pytestmark = pytest.mark.slow

MIT_ENGLISH = (
    "Permission is hereby granted, free of charge, to any person obtaining a copy of the software and associated "
    "documentation files to deal in the software without restriction, including without limitation the rights to "
    "use, copy, modify, merge, publish, distribute, sublicence, and or sell copies of the software, and to permit "
    "persons to whom the software is furnished to do so, subject to the following conditions. The above copyright "
    "notice and this permission notice shall be included in all copies or substantial portions of the software."
)


@pytest.fixture(scope="module")
def engine() -> SttEngine:
    return SttEngine()


# ---------------------------------------------------------------------------------------------- accuracy
def test_jfk_accuracy(engine: SttEngine) -> None:
    t = engine.transcribe(shared("jfk.flac"))
    assert t.language == "en" and abs(t.duration - 11.0) < 0.1
    assert wer(JFK, t.text) <= 0.10, t.text


def test_mp3_with_hotwords(engine: SttEngine) -> None:
    t = engine.transcribe(shared("hotwords.mp3"), TranscribeOptions(hotwords="ComfyUI"))
    assert "ComfyUI" in t.text, t.text


def test_stereo_is_downmixed(engine: SttEngine) -> None:
    path = shared("stereo_diarization.wav")
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 2
    t = engine.transcribe(path)
    assert abs(t.duration - 5.0) < 0.2 and len(t.text.split()) >= 8, t.text


def test_english_part_of_the_multilingual_clip(engine: SttEngine) -> None:
    t = engine.transcribe(shared("multilingual.mp3"))
    assert wer(MIT_ENGLISH, t.text) <= 0.30, t.text


SENTENCES = (
    "The quarterly report was delivered to the board on Tuesday morning. "
    "Please send the signed contract back before the end of the week. "
    "The weather service expects heavy rain along the northern coast tonight."
)


def test_synthesized_speech(engine: SttEngine, tmp_path: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is not installed (apt-get install espeak-ng; scripts/test.sh does this)")
    wav = tmp_path / "tts.wav"
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(wav), SENTENCES], check=True)
    t = engine.transcribe(wav)
    assert wer(SENTENCES, t.text) <= 0.20, t.text


def test_word_timestamps_sit_inside_their_segments(engine: SttEngine) -> None:
    t = engine.transcribe(shared("jfk.flac"), TranscribeOptions(word_timestamps=True))
    words = [w for s in t.segments for w in (s.words or [])]
    assert len(words) >= 20
    for s in t.segments:
        for w in s.words or []:
            assert s.start - 0.01 <= w.start <= w.end <= s.end + 0.01
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_batched_pipeline_runs_on_cpu(engine: SttEngine) -> None:
    t = engine.transcribe(shared("jfk.flac"), TranscribeOptions(batched=True, batch_size=4))
    assert wer(JFK, t.text) <= 0.10, t.text


# ---------------------------------------------------------------------------------------------- formats
_SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)\n")
_VTT_CUE = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(.+)\n")


def _secs(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def check_cues(cues: list[tuple[float, float, str]], duration: float) -> None:
    assert cues, "no cues"
    starts = [c[0] for c in cues]
    assert starts == sorted(starts)
    for start, end, text in cues:
        assert 0 <= start < end <= duration + 0.001 and text.strip()


@pytest.mark.parametrize("name", ["jfk.flac", "multilingual.mp3"])
def test_srt_and_vtt_parse_with_monotonic_cues(engine: SttEngine, name: str) -> None:
    t = engine.transcribe(shared(name))
    srt, vtt = to_srt(t), to_vtt(t)
    srt_cues = _SRT_CUE.findall(srt)
    assert len(srt_cues) == srt.count(" --> ") and [int(c[0]) for c in srt_cues] == list(range(1, len(srt_cues) + 1))
    check_cues([(_secs(*c[1:5]), _secs(*c[5:9]), c[9]) for c in srt_cues], t.duration)
    assert vtt.startswith("WEBVTT\n\n")
    vtt_cues = _VTT_CUE.findall(vtt)
    assert len(vtt_cues) == len(srt_cues)
    check_cues([(_secs(*c[0:4]), _secs(*c[4:8]), c[8]) for c in vtt_cues], t.duration)
    assert to_txt(t).split() == " ".join(c[9] for c in srt_cues).split()


def test_cues_are_repaired_when_timestamps_misbehave() -> None:
    from streamprocess.stt.types import Segment

    segs = [
        Segment(id=0, start=1.0, end=0.5, text=" a", avg_logprob=0, no_speech_prob=0),
        Segment(id=1, start=0.8, end=12.0, text=" b", avg_logprob=0, no_speech_prob=0),
        Segment(id=2, start=3.0, end=4.0, text="  ", avg_logprob=0, no_speech_prob=0),
    ]
    t = Transcript(text="a b", language="en", language_probability=1, duration=10.0, model="m", segments=segs)
    cues = [(_secs(*c[1:5]), _secs(*c[5:9]), c[9]) for c in _SRT_CUE.findall(to_srt(t))]
    assert [c[2] for c in cues] == ["a", "b"]
    check_cues(cues, 10.0)


def test_transcript_loads_from_its_json() -> None:
    """transcript.json (as the stt processor writes it) reads back into the same typed Transcript."""
    from streamprocess.stt.formats import render
    from streamprocess.stt.types import Segment, Word

    words = [
        Word(start=0.0, end=0.4, word=" Hello", probability=0.9),
        Word(start=0.4, end=0.9, word=" there", probability=0.8),
    ]
    t = Transcript(
        text="Hello there",
        language="en",
        language_probability=0.99,
        duration=1.5,
        duration_after_vad=1.2,
        model="tiny.en",
        options=TranscribeOptions(word_timestamps=True).model_dump(),
        segments=[
            Segment(id=0, start=0.0, end=0.9, text=" Hello there", avg_logprob=-0.2, no_speech_prob=0.01, words=words)
        ],
        timings={"decode": 0.01, "transcribe": 0.2},
    )
    text = render(t, "json")
    assert Transcript.from_json(text) == t
    assert Transcript.from_json(text.encode()) == t


# ---------------------------------------------------------------------------------------------- options and models
def test_english_only_model_refuses_other_languages(engine: SttEngine) -> None:
    assert not engine.is_multilingual
    with pytest.raises(InvalidOptions, match="English-only") as e:
        engine.transcribe(np.zeros(16000, dtype=np.float32), TranscribeOptions(language="de"))
    assert e.value.code == "unsupported_language"
    with pytest.raises(InvalidOptions, match="cannot translate"):
        engine.transcribe(np.zeros(16000, dtype=np.float32), TranscribeOptions(task="translate"))


def test_options_from_object_metadata() -> None:
    opts = TranscribeOptions.from_mapping(
        {"word-timestamps": "true", "beam-size": "2", "language": "auto", "content-type": "audio/wav"}
    )
    assert (opts.word_timestamps, opts.beam_size, opts.language) == (True, 2, None)
    with pytest.raises(InvalidOptions, match="beam_size"):
        TranscribeOptions.from_mapping({"beam-size": "lots"})
    with pytest.raises(InvalidOptions, match="task"):
        TranscribeOptions.from_mapping({"task": "summarize"})


def test_models_by_path_and_by_unavailable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    path = bundled_model_path()
    assert path is not None
    assert SttEngine(str(path)).spec.source == str(path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match="large-v3"):
        SttEngine("large-v3")


# ---------------------------------------------------------------------------------------------- bad inputs
def test_bad_inputs_give_clear_errors_fast(engine: SttEngine, tmp_path: Path) -> None:
    from .processors import PNG

    cases = {
        "empty.wav": (b"", CorruptAudio, "empty"),
        "noise.wav": (os.urandom(50_000), (CorruptAudio, NoAudio), "cannot|no audio"),
        "picture.wav": (PNG + os.urandom(2000), (CorruptAudio, NoAudio), "cannot|no audio"),
    }
    for name, (data, error, fragment) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        start = time.monotonic()
        with pytest.raises(error, match=fragment):
            engine.transcribe(path)
        assert time.monotonic() - start < 10, name


def test_truncated_mp3_transcribes_what_is_there(engine: SttEngine, tmp_path: Path) -> None:
    data = shared("multilingual.mp3").read_bytes()
    path = tmp_path / "cut.mp3"
    path.write_bytes(data[: len(data) // 4])
    start = time.monotonic()
    t = engine.transcribe(path)
    assert time.monotonic() - start < 30
    assert t.duration < 20 and t.text.lower().startswith("permission")


def test_ten_minutes_of_silence_is_an_empty_transcript(engine: SttEngine, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silence.wav", np.zeros(16000 * 600, dtype=np.float32))
    start = time.monotonic()
    t = engine.transcribe(path)
    assert time.monotonic() - start < 60
    assert t.segments == [] and t.text == "" and abs(t.duration - 600) < 0.1
    assert to_srt(t) == "" and to_vtt(t) == "WEBVTT\n\n"


def test_too_long_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", np.zeros(16000 * 30, dtype=np.float32))
    with pytest.raises(TooLong, match="over the 10 s limit"):
        SttEngine(max_duration=10).transcribe(path)


# ---------------------------------------------------------------------------------------------- CLI and pipeline
def test_cli_transcribe_as_a_newcomer_would(tmp_path: Path) -> None:
    audio = shared("jfk.flac")
    out = subprocess.run(
        cli("transcribe", str(audio), "--format", "vtt"),
        env=cli_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("WEBVTT") and wer(JFK, " ".join(_VTT_CUE.sub(r"\9", out.stdout).split()[1:])) <= 0.1
    out = subprocess.run(
        cli("transcribe", str(audio), str(ROOT / "README.md"), "-f", "srt", "-o", "subs"),
        env=cli_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "README.md" in out.stderr  # the bad file is reported, the good one written
    assert _SRT_CUE.findall((tmp_path / "subs" / "jfk.srt").read_text())


async def test_stt_jobs_through_the_pipeline(tmp_path: Path) -> None:
    from streamprocess.jobs import JobState

    from .helpers import Pipeline

    pipeline = Pipeline(tmp_path, stt_processor="stt")
    try:
        pipeline.start_worker()
        await pipeline.drop("meeting/jfk.flac", shared("jfk.flac").read_bytes())
        await pipeline.drop("bad.wav", b"RIFF\x00\x00\x00\x00WAVE" + os.urandom(3000))
        done = await pipeline.wait_state("jfk.flac", JobState.succeeded, timeout=120)
        assert set(done.results) == {"transcript.json", "transcript.txt", "transcript.srt", "transcript.vtt"}
        results = Path(pipeline.settings.data_dir) / "results" / done.job_id
        transcript = Transcript.model_validate_json((results / "transcript.json").read_text())
        assert wer(JFK, (results / "transcript.txt").read_text()) <= 0.10
        assert transcript.language == "en" and done.summary["language"] == "en"
        assert done.progress is not None and done.progress.fraction == 1.0
        bad = await pipeline.wait_state("bad.wav", JobState.failed, timeout=60)
        assert bad.error is not None and bad.error.code == "corrupt_media" and bad.attempts == 1
    finally:
        pipeline.stop()


def test_wav_writer_round_trip(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", np.zeros(160, dtype=np.float32))
    with wave.open(io.BytesIO(path.read_bytes())) as w:
        assert w.getframerate() == 16000 and w.getnframes() == 160


def encode(samples: np.ndarray, path: Path, fmt: str, codec: str, rate: int) -> Path:
    """Re-encode 16 kHz mono samples with PyAV (FFmpeg) into another container, rate and channel layout."""
    import av

    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray((samples[None, :] * 32767).astype(np.int16), format="s16", layout="mono")
        frame.sample_rate = 16000
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="stereo", rate=rate)
        for f in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize(
    "name, fmt, codec, rate, mime",
    [
        ("jfk.m4a", "ipod", "aac", 44100, "audio/mp4"),
        ("jfk.ogg", "ogg", "libopus", 48000, "audio/ogg"),
        ("jfk.webm", "webm", "libopus", 48000, "video/webm"),
    ],
)
def test_other_containers_rates_and_layouts(
    engine: SttEngine, tmp_path: Path, name: str, fmt: str, codec: str, rate: int, mime: str
) -> None:
    from streamprocess.media import SNIFF_BYTES, detect
    from streamprocess.stt.audio import load_audio

    path = encode(load_audio(shared("jfk.flac")), tmp_path / name, fmt, codec, rate)
    media = detect(path.read_bytes()[:SNIFF_BYTES], name)
    assert (media.kind, media.mime) == ("stt", mime)
    t = engine.transcribe(path)
    assert abs(t.duration - 11.0) < 0.2
    assert wer(JFK, t.text) <= 0.10, t.text
