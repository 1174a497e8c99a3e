"""The decoder's loop guard (live/decoder.drop_squeezed_repeats): a phrase Whisper repeats with no audio of its own
is dropped from the hypothesis; a phrase really said twice stays."""

from __future__ import annotations

from streamprocess.live.decoder import drop_squeezed_repeats
from streamprocess.stt.types import Word


def timed(text: str, start: float, step: float) -> list[Word]:
    return [
        Word(start=start + i * step, end=start + (i + 1) * step, word=" " + x, probability=1.0)
        for i, x in enumerate(text.split())
    ]


def words(ws: list[Word]) -> str:
    return "".join(w.word for w in ws).strip()


def test_the_issue_loop_zero_length_copy_is_dropped() -> None:
    """Issue 19's final: "Ask what you can do for your country. Ask what YOU can do FOR YOUR COUNTRY." (capitals:
    words of zero length at the end of the audio)."""
    said = timed("Ask what you can do for your country.", 8.0, 0.3)
    copy = timed("Ask what", 10.4, 0.05) + [
        Word(start=10.5, end=10.5, word=" " + x, probability=1.0) for x in "you can do for your country.".split()
    ]
    assert words(drop_squeezed_repeats(said + copy)) == "Ask what you can do for your country."


def test_a_reworded_squeezed_copy_is_dropped_too() -> None:
    """Measured with a 5 s decoder floor on jfk.flac: "… your country. As what can do to your country?" at 10.42 s."""
    said = timed("As what you can do for your country.", 8.0, 0.3)
    copy = [
        Word(start=10.42, end=10.42, word=" " + x, probability=1.0) for x in "As what can do to your country?".split()
    ]
    assert words(drop_squeezed_repeats(said + copy)) == "As what you can do for your country."
    fellow = timed("And so my fellow Americans.", 0.1, 0.4) + timed("And so, my fellow American.", 2.1, 0.01)
    assert words(drop_squeezed_repeats(fellow)) == "And so my fellow Americans."


def test_a_phrase_really_said_twice_stays() -> None:
    twice = timed("ask what you can do", 5.0, 0.3) + timed("ask what you can do", 6.6, 0.28)
    assert drop_squeezed_repeats(twice) == twice
    single = timed("the the", 0.0, 0.0)  # one-word "phrases" are not judged
    assert drop_squeezed_repeats(single) == single
    assert drop_squeezed_repeats([]) == []
