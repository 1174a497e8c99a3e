from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VadConfig(_message.Message):
    __slots__ = ("enabled", "threshold", "min_silence_ms", "min_speech_ms", "speech_pad_ms")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MIN_SILENCE_MS_FIELD_NUMBER: _ClassVar[int]
    MIN_SPEECH_MS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_PAD_MS_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    threshold: float
    min_silence_ms: int
    min_speech_ms: int
    speech_pad_ms: int
    def __init__(self, enabled: _Optional[bool] = ..., threshold: _Optional[float] = ..., min_silence_ms: _Optional[int] = ..., min_speech_ms: _Optional[int] = ..., speech_pad_ms: _Optional[int] = ...) -> None: ...

class StreamConfig(_message.Message):
    __slots__ = ("sample_rate", "encoding", "language", "interim_results", "vad", "prompt", "hotwords", "save", "save_audio", "task")
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    VAD_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    HOTWORDS_FIELD_NUMBER: _ClassVar[int]
    SAVE_FIELD_NUMBER: _ClassVar[int]
    SAVE_AUDIO_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    sample_rate: int
    encoding: str
    language: str
    interim_results: bool
    vad: VadConfig
    prompt: str
    hotwords: str
    save: bool
    save_audio: bool
    task: str
    def __init__(self, sample_rate: _Optional[int] = ..., encoding: _Optional[str] = ..., language: _Optional[str] = ..., interim_results: _Optional[bool] = ..., vad: _Optional[_Union[VadConfig, _Mapping]] = ..., prompt: _Optional[str] = ..., hotwords: _Optional[str] = ..., save: _Optional[bool] = ..., save_audio: _Optional[bool] = ..., task: _Optional[str] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("config", "audio", "stop")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    config: StreamConfig
    audio: bytes
    stop: bool
    def __init__(self, config: _Optional[_Union[StreamConfig, _Mapping]] = ..., audio: _Optional[bytes] = ..., stop: _Optional[bool] = ...) -> None: ...

class TimedWord(_message.Message):
    __slots__ = ("word", "start", "end", "probability")
    WORD_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    word: str
    start: float
    end: float
    probability: float
    def __init__(self, word: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., probability: _Optional[float] = ...) -> None: ...

class TranscriptEvent(_message.Message):
    __slots__ = ("type", "is_final", "stability", "text", "start", "end", "id", "words", "audio_end", "time", "code", "message", "session_id", "model", "reason", "audio_seconds", "finals", "partials", "decodes", "job_id", "sample_rate", "encoding", "dropped_seconds", "language", "language_probability", "committed")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    STABILITY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    AUDIO_END_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FINALS_FIELD_NUMBER: _ClassVar[int]
    PARTIALS_FIELD_NUMBER: _ClassVar[int]
    DECODES_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    DROPPED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    type: str
    is_final: bool
    stability: float
    text: str
    start: float
    end: float
    id: int
    words: _containers.RepeatedCompositeFieldContainer[TimedWord]
    audio_end: float
    time: float
    code: str
    message: str
    session_id: str
    model: str
    reason: str
    audio_seconds: float
    finals: int
    partials: int
    decodes: int
    job_id: str
    sample_rate: int
    encoding: str
    dropped_seconds: float
    language: str
    language_probability: float
    committed: str
    def __init__(self, type: _Optional[str] = ..., is_final: _Optional[bool] = ..., stability: _Optional[float] = ..., text: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., id: _Optional[int] = ..., words: _Optional[_Iterable[_Union[TimedWord, _Mapping]]] = ..., audio_end: _Optional[float] = ..., time: _Optional[float] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., session_id: _Optional[str] = ..., model: _Optional[str] = ..., reason: _Optional[str] = ..., audio_seconds: _Optional[float] = ..., finals: _Optional[int] = ..., partials: _Optional[int] = ..., decodes: _Optional[int] = ..., job_id: _Optional[str] = ..., sample_rate: _Optional[int] = ..., encoding: _Optional[str] = ..., dropped_seconds: _Optional[float] = ..., language: _Optional[str] = ..., language_probability: _Optional[float] = ..., committed: _Optional[str] = ...) -> None: ...
