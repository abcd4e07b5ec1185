"""Python client of the diabetes progression prediction service (gRPC).

from client import PredictionClient

with PredictionClient("127.0.0.1:50051") as client:
    client.predict({"bmi": 0.06}).prediction
    client.predict_columns({"bmi": bmi_array}).predictions
"""

from client.aio import AsyncPredictionClient
from client.channel import RetryPolicy
from client.convert import FEATURES
from client.errors import (
    DeadlineExceededError,
    InvalidInputError,
    MessageTooLargeError,
    PredictionError,
    UnavailableError,
)
from client.results import BatchPrediction, FeatureInfo, ModelInfo, Prediction, ServiceLimits
from client.sync import PredictionClient

__all__ = [
    "FEATURES",
    "AsyncPredictionClient",
    "BatchPrediction",
    "DeadlineExceededError",
    "FeatureInfo",
    "InvalidInputError",
    "MessageTooLargeError",
    "ModelInfo",
    "Prediction",
    "PredictionClient",
    "PredictionError",
    "RetryPolicy",
    "ServiceLimits",
    "UnavailableError",
]
