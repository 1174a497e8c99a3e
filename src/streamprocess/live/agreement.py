"""LocalAgreement-2 (Macháček et al., whisper_streaming): a word is committed once two consecutive hypotheses
agree on it (the longest common prefix of their words); committed words never change."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from ..stt.types import Word

_STRIP = re.compile(r"[^\w']+", re.UNICODE)
SENTENCE_END = (".", "?", "!", "。", "？", "！")


def norm(word: str) -> str:
    return _STRIP.sub("", word.lower())


def text_of(words: list[Word]) -> str:
    return "".join(w.word for w in words).strip()


class LocalAgreement:
    """Hypotheses in, committed words out. Times are absolute (seconds of stream audio)."""

    def __init__(self, overlap_tolerance: float = 0.1, max_ngram: int = 5, overlap: float = 2.0,
                 history: int = 30) -> None:
        self.committed: list[Word] = []  # committed, not yet handed out as a final
        self.tail: list[Word] = []  # the previous hypothesis after the committed words
        self.history: list[Word] = []  # the last committed words, finals included (for overlap removal)
        self.overlap = overlap
        self.history_size = history
        self.last_end = 0.0  # end time of the last committed word
        self.tolerance = overlap_tolerance
        self.max_ngram = max_ngram

    def fresh(self, words: list[Word]) -> list[Word]:
        """The hypothesis' words after what is committed already. The hypothesis of a re-decoded buffer often
        repeats words already committed (still in the buffer, or just before a cut whose alignment time came out
        early), and its alignment times drift too much to sort them out by time alone. So the words within
        ``overlap`` seconds of the last committed one are matched word by word to the last committed words, and
        everything through a match reaching their end is dropped; without such a match, by time, dropping an
        n-gram (n ≤ 5) that repeats the committed words' end."""
        if self.history:
            near = [w for w in words if w.start <= self.last_end + self.overlap]
            mine, theirs = [norm(w.word) for w in self.history], [norm(w.word) for w in near]
            blocks = [b for b in SequenceMatcher(a=mine, b=theirs, autojunk=False).get_matching_blocks() if b.size]
            if blocks and blocks[-1].a + blocks[-1].size >= len(mine) - 1 and blocks[-1].size >= min(2, len(mine)):
                return words[blocks[-1].b + blocks[-1].size:]
        new = [w for w in words if w.start > self.last_end - self.tolerance]
        for n in range(1, min(self.max_ngram, len(self.history), len(new)) + 1):
            if [norm(w.word) for w in self.history[-n:]] == [norm(w.word) for w in new[:n]]:
                return new[n:]
        return new

    def insert(self, words: list[Word], *, commit: bool = True) -> list[Word]:
        """Takes a new hypothesis; returns the words it commits (none when ``commit`` is false: the hypothesis
        only becomes the one the next is compared with)."""
        new = self.fresh(words)
        if not commit:
            self.tail = new
            return []
        k = 0
        while k < min(len(new), len(self.tail)) and norm(new[k].word) == norm(self.tail[k].word) and norm(new[k].word):
            k += 1
        agreed, self.tail = new[:k], new[k:]
        self.commit(agreed)
        return agreed

    def commit(self, words: list[Word]) -> None:
        if words:
            self.committed.extend(words)
            self.history = (self.history + words)[-self.history_size:]
            self.last_end = max(self.last_end, words[-1].end)

    def take_sentences(self, heard_until: float, margin: float = 2.0) -> list[Word]:
        """Committed words through the last sentence end, removed from ``committed`` (empty when none ends).
        A sentence end counts only once a committed word follows it, or ``margin`` seconds of audio were heard
        after it: Whisper often writes a sentence's last word before it is spoken, and the alignment then dates
        it too early; cutting the buffer there would hear the word's sound again as new speech."""
        for i in range(len(self.committed) - 1, -1, -1):
            last = self.committed[i]
            settled = i + 1 < len(self.committed) or last.end <= heard_until - margin
            if settled and last.word.strip().endswith(SENTENCE_END):
                done, self.committed = self.committed[: i + 1], self.committed[i + 1:]
                return done
        return []

    def take_all(self, final_words: list[Word] | None = None) -> list[Word]:
        """Everything committed plus ``final_words`` (a last hypothesis' fresh words), as one final; resets."""
        if final_words:
            self.commit(final_words)
        done, self.committed, self.tail = self.committed, [], []
        return done

    def polish(self, words: list[Word]) -> None:
        """Takes the spelling (case, punctuation) of committed words from a later hypothesis of the same audio,
        as far as the two agree word for word: short windows often end a phrase with a "!" the full utterance
        does not have. The words themselves do not change."""
        for i, (mine, theirs) in enumerate(zip(self.committed, words, strict=False)):
            if norm(mine.word) != norm(theirs.word):
                break
            self.committed[i] = mine.model_copy(update={"word": theirs.word})

    def take_committed(self) -> list[Word]:
        done, self.committed = self.committed, []
        return done

    def pending(self) -> list[Word]:
        return self.committed + self.tail
