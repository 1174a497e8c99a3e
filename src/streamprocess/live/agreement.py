"""LocalAgreement-2 (Macháček et al., whisper_streaming): a word is committed once two consecutive hypotheses
agree on it (the longest common prefix of their words); committed words never change."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from ..stt.types import Word

_STRIP = re.compile(r"[^\w']+", re.UNICODE)
SENTENCE_END = (".", "?", "!", "。", "？", "！")
CLAUSE_END = (*SENTENCE_END, ",", ";", ":", "，", "、", "；", "：")


def norm(word: str) -> str:
    return _STRIP.sub("", word.lower())


def text_of(words: list[Word]) -> str:
    return "".join(w.word for w in words).strip()


class LocalAgreement:
    """Hypotheses in, committed words out. Times are absolute (seconds of stream audio)."""

    def __init__(
        self,
        overlap_tolerance: float = 0.1,
        max_ngram: int = 5,
        overlap: float = 2.0,
        history: int = 30,
        match_drift: float = 1.0,
        lookahead: float = 0.5,
    ) -> None:
        self.committed: list[Word] = []  # committed, not yet handed out as a final
        self.tail: list[Word] = []  # the previous hypothesis after the committed words
        self.history: list[Word] = []  # the last committed words, finals included (for overlap removal)
        self.overlap = overlap
        self.history_size = history
        self.last_end = 0.0  # end time of the last committed word
        self.tolerance = overlap_tolerance
        self.max_ngram = max_ngram
        self.match_drift = match_drift
        self.lookahead = lookahead
        self._tail_counts = False  # the tail came from a hypothesis allowed to commit

    def fresh(self, words: list[Word]) -> list[Word]:
        """The hypothesis' words after what is committed already. The hypothesis of a re-decoded buffer often
        repeats words already committed (still in the buffer, or just before a cut whose alignment time came out
        early), and its alignment times drift too much to sort them out by time alone. So the words within
        ``overlap`` seconds of the last committed one are matched word by word to the last committed words, and
        everything through a match reaching their end is dropped — provided the matched words lie within
        ``match_drift`` seconds of the committed ones (when the match stops one word short, the words heard in that
        last committed word's time go too): a phrase said twice ("… what your country can do for you, ask
        what you can do for your country") is new speech, not a repeat. Without such a match, by time, dropping an
        n-gram (n ≤ 5) that repeats the committed words' end."""
        if self.history:
            near = [w for w in words if w.start <= self.last_end + self.overlap]
            mine, theirs = [norm(w.word) for w in self.history], [norm(w.word) for w in near]
            blocks = [b for b in SequenceMatcher(a=mine, b=theirs, autojunk=False).get_matching_blocks() if b.size]
            if blocks:
                last = blocks[-1]
                if (
                    last.a + last.size >= len(mine) - 1
                    and last.size >= min(2, len(mine))
                    and abs(near[last.b].start - self.history[last.a].start) <= self.match_drift
                ):
                    rest = words[last.b + last.size :]
                    if last.a + last.size < len(mine):  # the last committed word heard differently this time
                        rest = [w for w in rest if w.start > self.last_end - self.tolerance]
                    return rest
        new = [w for w in words if w.start > self.last_end - self.tolerance]
        for n in range(1, min(self.max_ngram, len(self.history), len(new)) + 1):
            if [norm(w.word) for w in self.history[-n:]] == [norm(w.word) for w in new[:n]]:
                return new[n:]
        return new

    def insert(self, words: list[Word], *, commit: bool = True, heard_until: float | None = None) -> list[Word]:
        """Takes a new hypothesis; returns the words it commits. With ``commit`` false (a window too short to
        trust) nothing is committed and the next hypothesis is not compared with this one either. Of the words both
        hypotheses agree on, the hypothesis' last word and those ending within ``lookahead`` seconds of
        ``heard_until`` (the end of the audio heard) wait: Whisper guesses the last words of a window with no audio
        after them to go by, and spells them as if the speech ended there ("Ask not!"), and two windows a step
        apart often make the same guess."""
        new = self.fresh(words)
        if not commit or not self._tail_counts:  # a too-short window neither commits nor is agreed with
            self.tail, self._tail_counts = new, commit
            return []
        k = 0
        while k < min(len(new), len(self.tail)) and norm(new[k].word) == norm(self.tail[k].word) and norm(new[k].word):
            k += 1
        k = max(0, min(k, len(new) - 1))
        if heard_until is not None:
            while k > 0 and new[k - 1].end > heard_until - self.lookahead:
                k -= 1
        agreed, self.tail = new[:k], new[k:]
        self.commit(agreed)
        return agreed

    def commit(self, words: list[Word]) -> None:
        if words:
            self.committed.extend(words)
            self.history = (self.history + words)[-self.history_size :]
            self.last_end = max(self.last_end, words[-1].end)

    def take_sentences(
        self, heard_until: float, margin: float = 2.0, ends: tuple[str, ...] = SENTENCE_END
    ) -> list[Word]:
        """Committed words through the last sentence end (or any of ``ends``: :data:`CLAUSE_END` for clauses),
        removed from ``committed`` (empty when none ends).
        A sentence end counts only once a committed word follows it, or ``margin`` seconds of audio were heard
        after it: Whisper often writes a sentence's last word before it is spoken, and the alignment then dates
        it too early; cutting the buffer there would hear the word's sound again as new speech."""
        for i in range(len(self.committed) - 1, -1, -1):
            last = self.committed[i]
            settled = i + 1 < len(self.committed) or last.end <= heard_until - margin
            if settled and last.word.strip().endswith(ends):
                done, self.committed = self.committed[: i + 1], self.committed[i + 1 :]
                return done
        return []

    def take_all(self, final_words: list[Word] | None = None) -> list[Word]:
        """Everything committed plus ``final_words`` (a last hypothesis' fresh words), as one final; resets."""
        if final_words:
            self.commit(final_words)
        done, self.committed, self.tail = self.committed, [], []
        return done

    def take_committed(self) -> list[Word]:
        done, self.committed = self.committed, []
        return done

    def pending(self) -> list[Word]:
        return self.committed + self.tail
