"""Names taken from the contract's descriptor, never typed by hand."""

from __future__ import annotations

from diabetes.v1 import prediction_pb2

_SERVICE = prediction_pb2.DESCRIPTOR.services_by_name["PredictionService"]
SERVICE_NAME: str = _SERVICE.full_name


def method_path(method: str) -> str:
    """A method's gRPC path, e.g. `/diabetes.v1.PredictionService/Predict`."""
    name: str = _SERVICE.methods_by_name[method].name
    return f"/{SERVICE_NAME}/{name}"
