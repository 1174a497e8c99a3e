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
    __slots__ = ("text", "bbox", "confidence", "words", "script", "engine")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    text: str
    bbox: _containers.RepeatedScalarFieldContainer[int]
    confidence: float
    words: _containers.RepeatedCompositeFieldContainer[Word]
    script: str
    engine: str
    def __init__(self, text: _Optional[str] = ..., bbox: _Optional[_Iterable[int]] = ..., confidence: _Optional[float] = ..., words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ..., script: _Optional[str] = ..., engine: _Optional[str] = ...) -> None: ...

class Cell(_message.Message):
    __slots__ = ("row", "col", "row_span", "col_span", "bbox", "text")
    ROW_FIELD_NUMBER: _ClassVar[int]
    COL_FIELD_NUMBER: _ClassVar[int]
    ROW_SPAN_FIELD_NUMBER: _ClassVar[int]
    COL_SPAN_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    row: int
    col: int
    row_span: int
    col_span: int
    bbox: _containers.RepeatedScalarFieldContainer[int]
    text: str
    def __init__(self, row: _Optional[int] = ..., col: _Optional[int] = ..., row_span: _Optional[int] = ..., col_span: _Optional[int] = ..., bbox: _Optional[_Iterable[int]] = ..., text: _Optional[str] = ...) -> None: ...

class Table(_message.Message):
    __slots__ = ("rows", "cols", "ruled", "cells")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    RULED_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    rows: int
    cols: int
    ruled: bool
    cells: _containers.RepeatedCompositeFieldContainer[Cell]
    def __init__(self, rows: _Optional[int] = ..., cols: _Optional[int] = ..., ruled: _Optional[bool] = ..., cells: _Optional[_Iterable[_Union[Cell, _Mapping]]] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ("bbox", "kind", "lines", "table")
    BBOX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    bbox: _containers.RepeatedScalarFieldContainer[int]
    kind: str
    lines: _containers.RepeatedCompositeFieldContainer[Line]
    table: Table
    def __init__(self, bbox: _Optional[_Iterable[int]] = ..., kind: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[Line, _Mapping]]] = ..., table: _Optional[_Union[Table, _Mapping]] = ...) -> None: ...

class FormField(_message.Message):
    __slots__ = ("key", "value", "key_bbox", "value_bbox", "confidence")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    KEY_BBOX_FIELD_NUMBER: _ClassVar[int]
    VALUE_BBOX_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    key_bbox: _containers.RepeatedScalarFieldContainer[int]
    value_bbox: _containers.RepeatedScalarFieldContainer[int]
    confidence: float
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ..., key_bbox: _Optional[_Iterable[int]] = ..., value_bbox: _Optional[_Iterable[int]] = ..., confidence: _Optional[float] = ...) -> None: ...

class Checkbox(_message.Message):
    __slots__ = ("label", "checked", "bbox")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CHECKED_FIELD_NUMBER: _ClassVar[int]
    BBOX_FIELD_NUMBER: _ClassVar[int]
    label: str
    checked: bool
    bbox: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, label: _Optional[str] = ..., checked: _Optional[bool] = ..., bbox: _Optional[_Iterable[int]] = ...) -> None: ...

class Page(_message.Message):
    __slots__ = ("index", "width", "height", "dpi", "engine", "text", "blocks", "fields", "checkboxes", "warnings")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DPI_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    CHECKBOXES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    index: int
    width: int
    height: int
    dpi: float
    engine: str
    text: str
    blocks: _containers.RepeatedCompositeFieldContainer[Block]
    fields: _containers.RepeatedCompositeFieldContainer[FormField]
    checkboxes: _containers.RepeatedCompositeFieldContainer[Checkbox]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, index: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., dpi: _Optional[float] = ..., engine: _Optional[str] = ..., text: _Optional[str] = ..., blocks: _Optional[_Iterable[_Union[Block, _Mapping]]] = ..., fields: _Optional[_Iterable[_Union[FormField, _Mapping]]] = ..., checkboxes: _Optional[_Iterable[_Union[Checkbox, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class OCRResponse(_message.Message):
    __slots__ = ("request_id", "job_id", "ok", "error", "text", "pages", "seconds", "markdown")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PAGES_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    job_id: str
    ok: bool
    error: Error
    text: str
    pages: _containers.RepeatedCompositeFieldContainer[Page]
    seconds: float
    markdown: str
    def __init__(self, request_id: _Optional[str] = ..., job_id: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., text: _Optional[str] = ..., pages: _Optional[_Iterable[_Union[Page, _Mapping]]] = ..., seconds: _Optional[float] = ..., markdown: _Optional[str] = ...) -> None: ...
