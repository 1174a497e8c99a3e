"""Whisper on short live buffers: CTranslate2's ``generate`` on the mel of only the real audio, batched.

Stock ``transcribe()`` pads every input to Whisper's 30 s window, so a 2 s buffer costs as much as a 30 s one.
Here the encoder sees just the buffer plus ``pad_seconds`` of silence (as whisper.cpp's ``audio_ctx``), padded to
no less than ``min_seconds``, which is several times cheaper; a batch of similar-length buffers from different
streams runs as one call. Short windows make Whisper loop ("after life, after life, …"), so guards are always on:
the output is capped at ``tokens_base + tokens_per_second × seconds`` tokens, ``no_repeat_ngram_size`` (3) forbids
repeated trigrams, and words the alignment puts after the real audio are dropped. Measured on jfk.flac's
utterances with tiny.en, the guards alone still let windows under ~8 s loop ("And so my fellow Americans. And so,
my") where the 30 s window did not; a 10 s floor gave the full window's text on every one, so that is the default.
A request may carry a ``prefix``, the text already committed for the start of its audio: it goes into the
prompt after <|notimestamps|> (as faster-whisper's ``prefix``), so the decoder reads it in one pass and generates
only the words after it, rather than the whole buffer again token by token (a decoder step of tiny.en took about
2.3 ms on 2 CPU cores), and the hypothesis cannot hear committed words differently. Prefixes of different
lengths batch together (CTranslate2 needs only <|startoftranscript|> at one position). Word times come from
CTranslate2's cross-attention alignment (as faster-whisper's ``word_timestamps``), for the prefix and the new
words alike.

Each request says its ``task``: ``translate`` puts Whisper's <|translate|> token in the prompt, so the words are
English whatever is spoken. A multilingual start sequence is always <|startoftranscript|>, the language, the task:
three tokens, so requests of either task and any language batch together. A request without a language has it
detected on its own encoder output (:meth:`WhisperModel.detect_language`'s probabilities), and its hypothesis
carries the language and that probability; a given language (or an English-only model) has probability 1.0, as
faster-whisper reports for a given language.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import numpy as np
from ctranslate2 import StorageView
from faster_whisper import WhisperModel
from faster_whisper.feature_extractor import FeatureExtractor
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import merge_punctuations

from ..stt.audio import SAMPLE_RATE
from ..stt.types import Word
from .agreement import norm

PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
MAX_SECONDS = 30.0  # Whisper's window


@dataclass
class DecodeRequest:
    audio: np.ndarray  # 16 kHz float32
    language: str | None = None  # None: detect (multilingual models)
    task: str = "transcribe"  # or translate (to English; multilingual models)
    prompt: str | None = None  # previous text, for continuity
    hotwords: str | None = None
    prefix: str | None = None  # the text already committed for the start of ``audio``: forced, not generated

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


@dataclass
class Hypothesis:
    words: list[Word]  # times in seconds from the start of the request's audio
    language: str
    language_probability: float | None = None  # 1.0 when the language was given; None: a decoder that does not say
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    truncated: bool = False  # the token cap cut it
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(w.word for w in self.words).strip()


def window_features(extractor: FeatureExtractor, audio: np.ndarray, window: int) -> np.ndarray:
    """The log-Mel features of ``audio`` padded with silence to ``window`` samples, as ``extractor(padded,
    padding=0)`` gives them, computing the STFT only as far as the audio reaches: a frame of silence has the same
    value in every band (the floor, 8 decades below the loudest frame), so the frames past the audio are copies of
    the first all-silent one. Up to the 10 s floor, most of a short buffer's window is that silence."""
    hop, n_fft = extractor.hop_length, extractor.n_fft
    frames = window // hop  # what the extractor gives for the whole window (it drops the last frame)
    short = min(window, (audio.size + 2 * n_fft) // hop * hop + hop)
    padded = np.zeros(short, np.float32)
    padded[: audio.size] = audio
    f = extractor(padded, padding=0)
    if short == window:
        return f
    return np.concatenate([f, np.repeat(f[:, -1:], frames - f.shape[-1], axis=1)], axis=1)


def drop_squeezed_repeats(words: list[Word], squeeze: float = 0.5, similar: float = 0.6) -> list[Word]:
    """``words`` without a tail that repeats the phrase before it in less than ``squeeze`` of its time: Whisper's
    loop on a short window ("Ask what you can do for your country. Ask what you can do for your country." where the
    second copy has no audio of its own: the alignment squeezes it into the last frames, words of zero length). A
    phrase really said twice takes about as long the second time, and stays. Phrases of two words or more, alike
    by :class:`difflib.SequenceMatcher` ratio ≥ ``similar`` on the normalised words (Whisper rewords the copy: "Ask
    what can do to your country?")."""
    keys = [norm(w.word) for w in words]
    changed = True
    while changed:
        changed = False
        for n in range(len(words) // 2, 1, -1):
            tail, before = words[-n:], words[-2 * n : -n]
            ratio = SequenceMatcher(a=keys[-2 * n : -n], b=keys[-n:], autojunk=False).ratio()
            spoken = before[-1].end - before[0].start
            if ratio >= similar and tail[-1].end - tail[0].start < squeeze * spoken:
                words, keys, changed = words[:-n], keys[:-n], True
                break
    return words


class WhisperDecoder:
    """Decodes batches of :class:`DecodeRequest` on one faster-whisper model (greedy, no timestamps tokens)."""

    def __init__(
        self,
        model: WhisperModel,
        *,
        pad_seconds: float = 0.5,
        min_seconds: float = 10.0,
        tokens_base: int = 4,
        tokens_per_second: float = 6.0,
        no_repeat_ngram_size: int = 3,
        prompt_tokens: int = 64,
        workers: int = 1,
    ) -> None:
        self.model = model
        self.workers = workers  # decode() calls that may run at once (the model's CTranslate2 workers)
        self.pad = int(pad_seconds * SAMPLE_RATE)
        self.min_samples = int(min(min_seconds, MAX_SECONDS) * SAMPLE_RATE)
        self.tokens_base = tokens_base
        self.tokens_per_second = tokens_per_second
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.prompt_tokens = prompt_tokens
        self.multilingual = bool(model.model.is_multilingual)
        self.supported_languages: list[str] = list(model.supported_languages)
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}

    def tokenizer(self, language: str | None, task: str = "transcribe") -> Tokenizer:
        """The tokenizer whose start sequence asks for ``language`` and ``task`` (one per pair, kept)."""
        key = (language, task) if self.multilingual and language else ("en", "transcribe")
        tok = self._tokenizers.get(key)
        if tok is None:
            tok = self._tokenizers[key] = Tokenizer(
                self.model.hf_tokenizer, self.multilingual, task=key[1], language=key[0]
            )
        return tok

    @property
    def device(self) -> str:
        return str(self.model.model.device)

    def window(self, request: DecodeRequest) -> float:
        """Seconds of audio the encoder sees for ``request`` (what its decode costs): the buffer and the pad, no
        less than the floor. Buffers under the floor all cost the same and batch together freely."""
        return (
            max(min(request.audio.size, int(MAX_SECONDS * SAMPLE_RATE) - self.pad) + self.pad, self.min_samples)
            / SAMPLE_RATE
        )

    def token_cap(self, seconds: float) -> int:
        return self.tokens_base + math.ceil(self.tokens_per_second * seconds)

    def decode(self, requests: list[DecodeRequest]) -> list[Hypothesis]:
        t0 = time.perf_counter()
        longest = min(max(r.audio.size for r in requests), int(MAX_SECONDS * SAMPLE_RATE) - self.pad)
        feats, frames = [], []
        window = int(max(self.window(r) for r in requests) * SAMPLE_RATE)
        for r in requests:  # pad each buffer with silence to the batch's window: no 30 s padding
            audio = r.audio[-longest:]
            feats.append(window_features(self.model.feature_extractor, audio, window))
            frames.append((audio.size + self.pad) // self.model.feature_extractor.hop_length)
        n = min(f.shape[-1] for f in feats)
        n -= n % 2
        mel = np.stack([f[:, :n] for f in feats]).astype(np.float32)
        frames = [min(k, n) for k in frames]  # mel frames holding real audio (what the alignment wants)
        t_feat = time.perf_counter()
        encoded = self.model.encode(mel)
        t_enc = time.perf_counter()

        languages = self._languages(requests, encoded)
        tokenizers = [self.tokenizer(lang, r.task) for (lang, _), r in zip(languages, requests, strict=True)]
        prompts = self._prompts(tokenizers, requests)
        prefixes = [
            tok.encode(" " + prefix) if (prefix := (r.prefix or "").strip()) else []
            for tok, r in zip(tokenizers, requests, strict=True)
        ]
        caps = [
            max(self.token_cap(min(r.seconds, MAX_SECONDS)), len(f) + self.tokens_base)
            for r, f in zip(requests, prefixes, strict=True)
        ]
        results = self.model.model.generate(
            encoded,
            [p + f for p, f in zip(prompts, prefixes, strict=True)],
            beam_size=1,
            max_length=max(len(p) + c for p, c in zip(prompts, caps, strict=True)),
            no_repeat_ngram_size=self.no_repeat_ngram_size,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
        )
        t_gen = time.perf_counter()

        tokens: list[list[int]] = []
        hyps: list[Hypothesis] = []
        for res, cap, tok, (lang, probability) in zip(results, caps, tokenizers, languages, strict=True):
            ids = [t for t in res.sequences_ids[0] if t < tok.eot][:cap]
            avg_logprob = float(res.scores[0]) if res.scores else 0.0
            silent = res.no_speech_prob > 0.6 and avg_logprob < -1.0  # faster-whisper's no-speech rule
            tokens.append([] if silent else ids)
            hyps.append(
                Hypothesis(
                    words=[],
                    language=lang,
                    language_probability=probability,
                    avg_logprob=round(avg_logprob, 4),
                    no_speech_prob=round(float(res.no_speech_prob), 4),
                    truncated=len(res.sequences_ids[0]) >= cap,
                )
            )
        self._align(requests, encoded, mel, frames, tokens, tokenizers, hyps)
        t_done = time.perf_counter()
        timing = {
            "features": t_feat - t0,
            "encode": t_enc - t_feat,
            "generate": t_gen - t_enc,
            "align": t_done - t_gen,
            "batch": float(len(requests)),
        }
        for h in hyps:
            h.timings = timing
        return hyps

    def _languages(self, requests: list[DecodeRequest], encoded: StorageView) -> list[tuple[str, float]]:
        """Each request's language and its probability: given (1.0), or detected on its encoder output (the most
        likely language token, ``<|de|>``, and its probability) when any request of the batch needs it."""
        if not self.multilingual:
            return [("en", 1.0)] * len(requests)
        if all(r.language for r in requests):
            return [(r.language, 1.0) for r in requests if r.language]
        detected = self.model.model.detect_language(encoded)
        return [
            (r.language, 1.0) if r.language else (d[0][0][2:-2], round(float(d[0][1]), 4))
            for r, d in zip(requests, detected, strict=True)
        ]

    @staticmethod
    def batch_key(request: DecodeRequest) -> bool:
        """Requests batch together only with the same key: those with hotwords and those without go apart (the
        context of a batch is cut to one length, and a stream's hotwords must not be cut for another's sake). The
        task is not in the key: either task's start sequence has the same length (see the module's notes)."""
        return bool((request.hotwords or "").strip())

    def _prompts(self, tokenizers: list[Tokenizer], requests: list[DecodeRequest]) -> list[list[int]]:
        """Each request's prompt: <|startofprev|> and its context (hotwords, then the most recent previous text),
        <|startoftranscript|>…, <|notimestamps|>. CTranslate2 wants <|startoftranscript|> at one position in every
        prompt of a batch, so the contexts are cut to the shortest one's length, previous text first (oldest
        tokens first), then hotwords; a batch with a request without context runs without context."""
        contexts = []
        for tok, r in zip(tokenizers, requests, strict=True):
            hotwords = (r.hotwords or "").strip()
            hot = tok.encode(" " + hotwords) if hotwords else []
            text = (r.prompt or "").strip()
            previous = tok.encode(" " + text)[-self.prompt_tokens :] if text else []
            contexts.append((hot[: self.prompt_tokens], previous))
        keep = min(len(h) + len(p) for h, p in contexts)
        prompts = []
        for tok, (hot, previous) in zip(tokenizers, contexts, strict=True):
            cut = len(hot) + len(previous) - keep
            previous = previous[min(cut, len(previous)) :]
            hot = hot[: keep - len(previous)]
            head = [tok.sot_prev, *hot, *previous] if keep else []
            prompts.append([*head, *tok.sot_sequence, tok.no_timestamps])
        return prompts

    def _align(
        self,
        requests: list[DecodeRequest],
        encoded: StorageView,
        mel: np.ndarray,
        frames: list[int],
        tokens: list[list[int]],
        tokenizers: list[Tokenizer],
        hyps: list[Hypothesis],
    ) -> None:
        """Word times for every hypothesis, one alignment call per start sequence (empty ones align to nothing)."""
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for i in range(len(tokens)):
            groups[tuple(tokenizers[i].sot_sequence)].append(i)
        for idx in groups.values():
            if not any(tokens[i] for i in idx):
                continue
            whole = len(idx) == len(requests)
            features = encoded if whole else self.model.encode(mel[idx])  # a StorageView cannot be sliced
            alignments = self.model.find_alignment(
                tokenizers[idx[0]],
                [tokens[i] for i in idx],
                features,
                [frames[i] for i in idx],
            )
            for i, alignment in zip(idx, alignments, strict=True):
                merge_punctuations(alignment, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
                limit = requests[i].seconds
                hyps[i].words = [
                    Word(
                        start=round(float(a["start"]), 3),
                        end=round(min(float(a["end"]), limit), 3),
                        word=a["word"],
                        probability=round(float(a["probability"]), 4),
                    )
                    for a in alignment
                    if a["word"].strip() and float(a["start"]) < limit - 0.02  # not in the pad
                ]
                hyps[i].words = drop_squeezed_repeats(hyps[i].words)
