from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Record(_message.Message):
    __slots__ = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    AGE_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    BMI_FIELD_NUMBER: _ClassVar[int]
    BP_FIELD_NUMBER: _ClassVar[int]
    S1_FIELD_NUMBER: _ClassVar[int]
    S2_FIELD_NUMBER: _ClassVar[int]
    S3_FIELD_NUMBER: _ClassVar[int]
    S4_FIELD_NUMBER: _ClassVar[int]
    S5_FIELD_NUMBER: _ClassVar[int]
    S6_FIELD_NUMBER: _ClassVar[int]
    age: float
    sex: float
    bmi: float
    bp: float
    s1: float
    s2: float
    s3: float
    s4: float
    s5: float
    s6: float
    def __init__(self, age: _Optional[float] = ..., sex: _Optional[float] = ..., bmi: _Optional[float] = ..., bp: _Optional[float] = ..., s1: _Optional[float] = ..., s2: _Optional[float] = ..., s3: _Optional[float] = ..., s4: _Optional[float] = ..., s5: _Optional[float] = ..., s6: _Optional[float] = ...) -> None: ...

class FeatureColumns(_message.Message):
    __slots__ = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    AGE_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    BMI_FIELD_NUMBER: _ClassVar[int]
    BP_FIELD_NUMBER: _ClassVar[int]
    S1_FIELD_NUMBER: _ClassVar[int]
    S2_FIELD_NUMBER: _ClassVar[int]
    S3_FIELD_NUMBER: _ClassVar[int]
    S4_FIELD_NUMBER: _ClassVar[int]
    S5_FIELD_NUMBER: _ClassVar[int]
    S6_FIELD_NUMBER: _ClassVar[int]
    age: _containers.RepeatedScalarFieldContainer[float]
    sex: _containers.RepeatedScalarFieldContainer[float]
    bmi: _containers.RepeatedScalarFieldContainer[float]
    bp: _containers.RepeatedScalarFieldContainer[float]
    s1: _containers.RepeatedScalarFieldContainer[float]
    s2: _containers.RepeatedScalarFieldContainer[float]
    s3: _containers.RepeatedScalarFieldContainer[float]
    s4: _containers.RepeatedScalarFieldContainer[float]
    s5: _containers.RepeatedScalarFieldContainer[float]
    s6: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, age: _Optional[_Iterable[float]] = ..., sex: _Optional[_Iterable[float]] = ..., bmi: _Optional[_Iterable[float]] = ..., bp: _Optional[_Iterable[float]] = ..., s1: _Optional[_Iterable[float]] = ..., s2: _Optional[_Iterable[float]] = ..., s3: _Optional[_Iterable[float]] = ..., s4: _Optional[_Iterable[float]] = ..., s5: _Optional[_Iterable[float]] = ..., s6: _Optional[_Iterable[float]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("record", "model", "version")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    record: Record
    model: str
    version: str
    def __init__(self, record: _Optional[_Union[Record, _Mapping]] = ..., model: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class PredictionInterval(_message.Message):
    __slots__ = ("lower", "upper", "confidence")
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    lower: float
    upper: float
    confidence: float
    def __init__(self, lower: _Optional[float] = ..., upper: _Optional[float] = ..., confidence: _Optional[float] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("prediction", "model_version", "interval", "baseline", "contributions", "out_of_range_features", "model_name")
    class ContributionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_RANGE_FEATURES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    prediction: float
    model_version: str
    interval: PredictionInterval
    baseline: float
    contributions: _containers.ScalarMap[str, float]
    out_of_range_features: _containers.RepeatedScalarFieldContainer[str]
    model_name: str
    def __init__(self, prediction: _Optional[float] = ..., model_version: _Optional[str] = ..., interval: _Optional[_Union[PredictionInterval, _Mapping]] = ..., baseline: _Optional[float] = ..., contributions: _Optional[_Mapping[str, float]] = ..., out_of_range_features: _Optional[_Iterable[str]] = ..., model_name: _Optional[str] = ...) -> None: ...

class PredictBatchRequest(_message.Message):
    __slots__ = ("records", "columns", "include_intervals", "model", "version")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INTERVALS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[Record]
    columns: FeatureColumns
    include_intervals: bool
    model: str
    version: str
    def __init__(self, records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., columns: _Optional[_Union[FeatureColumns, _Mapping]] = ..., include_intervals: _Optional[bool] = ..., model: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class PredictBatchResponse(_message.Message):
    __slots__ = ("offset", "predictions", "model_version", "lower", "upper", "out_of_range_indices", "model_name")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_RANGE_INDICES_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    offset: int
    predictions: _containers.RepeatedScalarFieldContainer[float]
    model_version: str
    lower: _containers.RepeatedScalarFieldContainer[float]
    upper: _containers.RepeatedScalarFieldContainer[float]
    out_of_range_indices: _containers.RepeatedScalarFieldContainer[int]
    model_name: str
    def __init__(self, offset: _Optional[int] = ..., predictions: _Optional[_Iterable[float]] = ..., model_version: _Optional[str] = ..., lower: _Optional[_Iterable[float]] = ..., upper: _Optional[_Iterable[float]] = ..., out_of_range_indices: _Optional[_Iterable[int]] = ..., model_name: _Optional[str] = ...) -> None: ...

class GetModelInfoRequest(_message.Message):
    __slots__ = ("model", "version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ServedModel(_message.Message):
    __slots__ = ("name", "versions", "stable", "canary", "canary_percent", "is_default")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    STABLE_FIELD_NUMBER: _ClassVar[int]
    CANARY_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    name: str
    versions: _containers.RepeatedScalarFieldContainer[str]
    stable: str
    canary: str
    canary_percent: float
    is_default: bool
    def __init__(self, name: _Optional[str] = ..., versions: _Optional[_Iterable[str]] = ..., stable: _Optional[str] = ..., canary: _Optional[str] = ..., canary_percent: _Optional[float] = ..., is_default: _Optional[bool] = ...) -> None: ...

class FeatureInfo(_message.Message):
    __slots__ = ("name", "coefficient", "mean", "std", "min", "max")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COEFFICIENT_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STD_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    name: str
    coefficient: float
    mean: float
    std: float
    min: float
    max: float
    def __init__(self, name: _Optional[str] = ..., coefficient: _Optional[float] = ..., mean: _Optional[float] = ..., std: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ...) -> None: ...

class ServiceLimits(_message.Message):
    __slots__ = ("max_batch_records", "batch_chunk_records", "max_receive_message_bytes")
    MAX_BATCH_RECORDS_FIELD_NUMBER: _ClassVar[int]
    BATCH_CHUNK_RECORDS_FIELD_NUMBER: _ClassVar[int]
    MAX_RECEIVE_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_batch_records: int
    batch_chunk_records: int
    max_receive_message_bytes: int
    def __init__(self, max_batch_records: _Optional[int] = ..., batch_chunk_records: _Optional[int] = ..., max_receive_message_bytes: _Optional[int] = ...) -> None: ...

class GetModelInfoResponse(_message.Message):
    __slots__ = ("name", "version", "features", "intercept", "baseline", "metrics", "interval_confidence", "created_at", "checksum", "limits", "n_train", "models", "units", "refused_files")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class UnitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    INTERCEPT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    N_TRAIN_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FILES_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    features: _containers.RepeatedCompositeFieldContainer[FeatureInfo]
    intercept: float
    baseline: float
    metrics: _containers.ScalarMap[str, float]
    interval_confidence: float
    created_at: str
    checksum: str
    limits: ServiceLimits
    n_train: int
    models: _containers.RepeatedCompositeFieldContainer[ServedModel]
    units: _containers.ScalarMap[str, str]
    refused_files: _containers.RepeatedCompositeFieldContainer[RefusedFile]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., features: _Optional[_Iterable[_Union[FeatureInfo, _Mapping]]] = ..., intercept: _Optional[float] = ..., baseline: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ..., interval_confidence: _Optional[float] = ..., created_at: _Optional[str] = ..., checksum: _Optional[str] = ..., limits: _Optional[_Union[ServiceLimits, _Mapping]] = ..., n_train: _Optional[int] = ..., models: _Optional[_Iterable[_Union[ServedModel, _Mapping]]] = ..., units: _Optional[_Mapping[str, str]] = ..., refused_files: _Optional[_Iterable[_Union[RefusedFile, _Mapping]]] = ...) -> None: ...

class RefusedFile(_message.Message):
    __slots__ = ("path", "reason", "model", "still_served")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STILL_SERVED_FIELD_NUMBER: _ClassVar[int]
    path: str
    reason: str
    model: str
    still_served: bool
    def __init__(self, path: _Optional[str] = ..., reason: _Optional[str] = ..., model: _Optional[str] = ..., still_served: _Optional[bool] = ...) -> None: ...
