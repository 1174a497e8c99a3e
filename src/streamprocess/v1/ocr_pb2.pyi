from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DocumentRequest(_message.Message):
    __slots__ = ("request_id", "content", "filename", "languages", "engine", "dpi")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    DPI_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    content: bytes
    filename: str
    languages: _containers.RepeatedScalarFieldContainer[str]
    engine: str
    dpi: float
    def __init__(self, request_id: _Optional[str] = ..., content: _Optional[bytes] = ..., filename: _Optional[str] = ..., languages: _Optional[_Iterable[str]] = ..., engine: _Optional[str] = ..., dpi: _Optional[float] = ...) -> None: ...

class Word(_message.Message):
    __slots__ = ("text", "bbox", "confidence")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    text: str
    bbox: _containers.RepeatedScalarFieldContainer[int]
    confidence: float
    def __init__(self, text: _Optional[str] = ..., bbox: _Optional[_Iterable[int]] = ..., confidence: _Optional[float] = ...) -> None: ...

class Line(_message.Message):
    __slots__ = ("text", "bbox", "confidence", "words")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    bbox: _containers.RepeatedScalarFieldContainer[int]
    confidence: float
    words: _containers.RepeatedCompositeFieldContainer[Word]
    def __init__(self, text: _Optional[str] = ..., bbox: _Optional[_Iterable[int]] = ..., confidence: _Optional[float] = ..., words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("bbox", "kind", "lines")
    BBOX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    bbox: _containers.RepeatedScalarFieldContainer[int]
    kind: str
    lines: _containers.RepeatedCompositeFieldContainer[Line]
    def __init__(self, bbox: _Optional[_Iterable[int]] = ..., kind: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[Line, _Mapping]]] = ...) -> None: ...

class Page(_message.Message):
    __slots__ = ("index", "width", "height", "dpi", "engine", "text", "blocks")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DPI_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    index: int
    width: int
    height: int
    dpi: float
    engine: str
    text: str
    blocks: _containers.RepeatedCompositeFieldContainer[Block]
    def __init__(self, index: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., dpi: _Optional[float] = ..., engine: _Optional[str] = ..., text: _Optional[str] = ..., blocks: _Optional[_Iterable[_Union[Block, _Mapping]]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class OCRResponse(_message.Message):
    __slots__ = ("request_id", "job_id", "ok", "error", "text", "pages", "seconds")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PAGES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    job_id: str
    ok: bool
    error: Error
    text: str
    pages: _containers.RepeatedCompositeFieldContainer[Page]
    seconds: float
    def __init__(self, request_id: _Optional[str] = ..., job_id: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., text: _Optional[str] = ..., pages: _Optional[_Iterable[_Union[Page, _Mapping]]] = ..., seconds: _Optional[float] = ...) -> None: ...
