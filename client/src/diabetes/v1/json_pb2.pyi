from google.api import annotations_pb2 as _annotations_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PredictJsonRecordsRequest(_message.Message):
    __slots__ = ("body", "include_intervals", "model", "version")
    BODY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INTERVALS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    include_intervals: bool
    model: str
    version: str
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., include_intervals: _Optional[bool] = ..., model: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class PredictJsonColumnsRequest(_message.Message):
    __slots__ = ("body", "include_intervals", "model", "version")
    BODY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INTERVALS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    include_intervals: bool
    model: str
    version: str
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., include_intervals: _Optional[bool] = ..., model: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class PredictJsonRecordRequest(_message.Message):
    __slots__ = ("body", "model", "version")
    BODY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    body: _httpbody_pb2.HttpBody
    model: str
    version: str
    def __init__(self, body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., model: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...
