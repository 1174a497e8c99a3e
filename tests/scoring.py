"""How close a text is to its reference, for the tests and the benchmarks (bench/): word error rate for
transcripts, character error rate for OCR, each with its one normaliser."""

from __future__ import annotations

import re

import jiwer

#: Transcripts are compared as words: case, punctuation and runs of white space do not count.
_words = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.SubstituteRegexes({r"\s+": " "}),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (lower-cased, punctuation removed)."""
    return float(jiwer.wer(reference, hypothesis, reference_transform=_words, hypothesis_transform=_words))


def normalise_spaces(text: str) -> str:
    """Runs of white space as one space, none at either end (what OCR text is compared on)."""
    return re.sub(r"\s+", " ", text).strip()


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate with the spaces between words kept (runs of white space become one space)."""
    return float(jiwer.cer(normalise_spaces(reference), normalise_spaces(hypothesis)))
