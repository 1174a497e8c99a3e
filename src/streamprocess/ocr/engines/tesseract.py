"""Tesseract (the Debian ``tesseract-ocr`` package and its language packs) through its command line.

``OMP_THREAD_LIMIT=1``: Tesseract's OpenMP threads make it 4–6× slower with the same output on a busy CPU; run pages
in parallel instead. TSV output gives words with boxes and confidences, grouped into Tesseract's lines.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from ...errors import ErrorCode, StreamProcessError
from ..languages import any_cjk
from ..types import Line, Word


class TesseractUnavailable(StreamProcessError):
    code = ErrorCode.ENGINE_UNAVAILABLE


def parse_list_langs(stdout: str) -> tuple[str, frozenset[str]]:
    """What ``tesseract --list-langs`` printed: the tessdata folder its first line names, and the languages."""
    lines = stdout.splitlines()
    where = re.search(r'"(.*?)"', lines[0]) if lines else None
    return (where.group(1) if where else ""), frozenset(line.strip() for line in lines[1:] if line.strip())


@functools.cache
def installed_languages() -> frozenset[str]:
    exe = shutil.which("tesseract")
    if exe is None:
        return frozenset()
    return parse_list_langs(subprocess.run([exe, "--list-langs"], capture_output=True, text=True, check=False).stdout)[
        1
    ]


def _run(image: Image.Image, args: list[str], timeout: float = 120, output: str = "stdout") -> str:
    exe = shutil.which("tesseract")
    if exe is None:
        raise TesseractUnavailable("tesseract is not installed (apt-get install tesseract-ocr)")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    proc = subprocess.run(
        [exe, "stdin", output, *args], input=buf.getvalue(), capture_output=True, timeout=timeout, env=env, check=False
    )
    if proc.returncode != 0:
        raise StreamProcessError(
            f"tesseract failed: {proc.stderr.decode(errors='replace').strip()[:300]}", code=ErrorCode.ENGINE_ERROR
        )
    return proc.stdout.decode("utf-8", errors="replace")


def detect_orientation(image: Image.Image) -> tuple[int, str | None]:
    """Tesseract OSD: (degrees to rotate clockwise to make the page upright, script) — (0, None) when unsure."""
    try:
        out = _run(image, ["--psm", "0"], timeout=60)
    except StreamProcessError:
        return 0, None  # too little text to tell
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    rotate = int(fields.get("Rotate", "0").strip() or 0)
    script = fields.get("Script", "").strip() or None
    confident = float(fields.get("Orientation confidence", "0").strip() or 0) >= 2.0
    return (rotate if confident else 0), script


class TesseractEngine:
    name = "tesseract"

    @property
    def languages(self) -> frozenset[str]:
        return installed_languages()

    def recognize(self, image: Image.Image, languages: list[str]) -> list[Line]:
        missing = [lang for lang in languages if lang not in self.languages]
        if missing:
            packages = " ".join("tesseract-ocr-" + m.replace("_", "-") for m in missing)
            raise TesseractUnavailable(
                f"tesseract language pack(s) not installed: {', '.join(missing)} (apt-get install {packages})"
            )
        cjk = any_cjk(languages)
        with tempfile.TemporaryDirectory(prefix="sp-tess-") as tmp:
            # One run, two renderings: TSV for the boxes, text for the words as Tesseract spaces them (its TSV
            # cuts CJK words into pieces and does not say which pieces belong together).
            _run(image, ["-l", "+".join(languages) or "eng", "--psm", "3", "txt", "tsv"], output=f"{tmp}/out")
            tsv = Path(tmp, "out.tsv").read_text(encoding="utf-8", errors="replace")
            texts = [
                t for t in Path(tmp, "out.txt").read_text(encoding="utf-8", errors="replace").splitlines() if t.strip()
            ]
        lines: dict[tuple[int, int, int], list[Word]] = {}
        for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
            text = (row.get("text") or "").strip()
            if row.get("level") != "5" or not text:
                continue
            x, y, w, h = (int(row[k]) for k in ("left", "top", "width", "height"))
            key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
            lines.setdefault(key, []).append(
                Word(text=text, bbox=(x, y, x + w, y + h), confidence=round(max(0.0, float(row["conf"])) / 100, 4))
            )
        out = []
        use_text = len(texts) == len(lines)
        for i, words in enumerate(lines.values()):
            box = (
                min(w.bbox[0] for w in words),
                min(w.bbox[1] for w in words),
                max(w.bbox[2] for w in words),
                max(w.bbox[3] for w in words),
            )
            conf = sum(w.confidence for w in words) / len(words)
            if use_text:
                text = texts[i].strip()
            else:
                text = _join_cjk(words) if cjk else " ".join(w.text for w in words)
            out.append(Line(text=text, bbox=box, confidence=round(conf, 4), words=words))
        return out


def _join_cjk(words: list[Word]) -> str:
    """Tesseract's words are separated by spaces, except that it cuts Chinese and Japanese into single characters:
    those join without one (Korean keeps its spaces)."""
    text = words[0].text
    for prev, word in zip(words, words[1:], strict=False):
        text += ("" if _han_or_kana(prev.text[-1]) and _han_or_kana(word.text[0]) else " ") + word.text
    return text


def _han_or_kana(ch: str) -> bool:
    o = ord(ch)
    return 0x3000 <= o <= 0x30FF or 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF
