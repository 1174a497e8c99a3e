"""bench/live_words.py: word and committed latency per reference word from what each client saw, the same for
every server measured (this pool, the Realtime door, the peers)."""

from bench.live_words import RefWord, StreamRun, first_seen, native_run, spoken, stream_wer, word_latencies
from streamprocess.live.client import Captioned

REF = [RefWord("ask", 0.0, 0.4), RefWord("not", 0.5, 0.9), RefWord("what", 1.0, 1.4), RefWord("ask", 2.0, 2.4)]
SENT = [(0.1 * k, 0.1 * k) for k in range(1, 31)]  # audio second s sent at wall second s


def test_word_and_committed_latency_from_visible_and_stable_views() -> None:
    run = StreamRun(
        sent=SENT,
        views=[
            (0.6, "Ask", ""),
            (1.0, "Ask not", "Ask"),
            (1.7, "Ask not what", "Ask not what"),
            (2.6, "Ask not, what. Ask!", "Ask not what ask"),
        ],
        text="Ask not what ask",
    )
    visible, stable, missed, unseen = word_latencies(run, REF)
    assert [round(x, 2) for x in visible] == [0.2, 0.1, 0.3, 0.2]
    assert [round(x, 2) for x in stable] == [0.6, 0.8, 0.3, 0.2]
    assert missed == unseen == 0


def test_a_word_matched_before_its_audio_began_is_not_seen_then() -> None:
    # the second "ask" (audio 2.0-2.4 s) cannot be heard at 0.6 s: the early view's "ask" is the first one
    seen = first_seen([(0.6, "ask"), (2.5, "ask not what ask")], SENT, REF)
    assert seen[0] == 0.6 and seen[3] == 2.5


def test_words_never_shown_are_missed() -> None:
    run = StreamRun(sent=SENT, views=[(1.0, "Ask not", "")], text="Ask not")
    visible, stable, missed, unseen = word_latencies(run, REF)
    assert len(visible) == 2 and missed == 2 and stable == [] and unseen == 4


def test_native_views() -> None:
    c = Captioned(
        events=[
            {"type": "partial", "text": "Ask not", "committed": "Ask", "received": 1.0},
            {"type": "final", "text": "Ask not what", "received": 1.5},
            {"type": "partial", "text": "ask", "committed": None, "received": 2.5},
        ],
        sent=SENT,
        close_code=1000,
    )
    run = native_run(c)
    assert run.views == [
        (1.0, "Ask not", "Ask"),
        (1.5, "Ask not what", "Ask not what"),
        (2.5, "Ask not what ask", "Ask not what"),
    ]
    assert run.ok and run.text == "Ask not what"


def test_hyphens_and_titles_spelled_as_spoken() -> None:
    assert spoken("Mr. John, ill-disposed") == "mister John, ill disposed"
    assert stream_wer("and mister john was ill disposed", "And Mr. John was ill-disposed.") == 0.0
