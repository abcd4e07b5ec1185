"""Python client of the diabetes progression prediction service (gRPC).

from diabetes_client import PredictionClient

with PredictionClient("127.0.0.1:50051") as client:
    client.predict({"bmi": 0.06}).prediction
    client.predict_columns({"bmi": bmi_array}).predictions
    client.predict({"bmi": 31.0}, model="diabetes-bmi-raw").model_name
"""

from diabetes_client.aio import AsyncPredictionClient
from diabetes_client.channel import RetryPolicy
from diabetes_client.convert import FEATURES
from diabetes_client.errors import (
    DeadlineExceededError,
    InvalidInputError,
    MessageTooLargeError,
    ModelNotFoundError,
    PermissionDeniedError,
    PredictionError,
    RateLimitedError,
    UnauthenticatedError,
    UnavailableError,
)
from diabetes_client.results import (
    BatchPrediction,
    FeatureInfo,
    ModelInfo,
    Prediction,
    ServedModel,
    ServiceLimits,
)
from diabetes_client.security import Tls
from diabetes_client.sync import PredictionClient

__all__ = [
    "FEATURES",
    "AsyncPredictionClient",
    "BatchPrediction",
    "DeadlineExceededError",
    "FeatureInfo",
    "InvalidInputError",
    "MessageTooLargeError",
    "ModelInfo",
    "ModelNotFoundError",
    "PermissionDeniedError",
    "Prediction",
    "PredictionClient",
    "PredictionError",
    "RateLimitedError",
    "RetryPolicy",
    "ServedModel",
    "ServiceLimits",
    "Tls",
    "UnauthenticatedError",
    "UnavailableError",
]
