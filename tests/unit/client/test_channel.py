"""The channel's service config: retries on UNAVAILABLE for both services."""

from __future__ import annotations

import json

import pytest

from diabetes_client.channel import RetryPolicy, channel_options, service_config


def test_service_config_retries_unavailable_and_resource_exhausted():
    config = json.loads(service_config(RetryPolicy(max_attempts=3, initial_backoff=0.25)))
    [method] = config["methodConfig"]
    assert method["name"] == [
        {"service": "diabetes.v1.PredictionService"},
        {"service": "grpc.health.v1.Health"},
    ]
    assert method["retryPolicy"] == {
        "maxAttempts": 3,
        "initialBackoff": "0.25s",
        "maxBackoff": "2s",
        "backoffMultiplier": 2.0,
        "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"],
    }


def test_no_retry_policy_disables_retries():
    options = dict(channel_options(None))
    assert options["grpc.enable_retries"] == 0
    assert "retryPolicy" not in options["grpc.service_config"]


def test_extra_options_win():
    options = dict(channel_options(RetryPolicy(), [("grpc.max_receive_message_length", 1)]))
    assert options["grpc.max_receive_message_length"] == 1
    assert options["grpc.enable_retries"] == 1


@pytest.mark.parametrize(
    "arguments", [{"max_attempts": 1}, {"max_attempts": 6}, {"initial_backoff": 0.0}]
)
def test_impossible_policies_are_refused(arguments):
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**arguments)
