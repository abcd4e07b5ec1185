"""The asyncio client against the real server: same answers as the model, same errors."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from diabetes_client import AsyncPredictionClient, InvalidInputError
from model.artifact import LinearModel
from tests.support.processes import ServerProcess


def test_every_method(two_feature_server: ServerProcess, two_feature_model: LinearModel):
    X = np.random.default_rng(5).normal(0.0, 0.05, size=(2_500, 2))
    expected = two_feature_model.predict(X)

    async def scenario() -> None:
        async with AsyncPredictionClient(
            two_feature_server.target, timeout=30, max_records_per_call=1_000
        ) as client:
            one = await client.predict({"bmi": X[0, 0], "bp": X[0, 1]})
            assert one.prediction == expected[0]
            assert one.model_version == two_feature_model.version
            records = [{"bmi": bmi, "bp": bp} for bmi, bp in X.tolist()]
            batch = await client.predict_batch(records, include_intervals=True)
            assert np.array_equal(batch.predictions, expected)
            assert batch.lower is not None
            half_width = two_feature_model.interval_half_width([X[:, 0], X[:, 1]])
            assert np.array_equal(batch.lower, expected - half_width)
            columns = await client.predict_columns({"bmi": X[:, 0], "bp": X[:, 1]})
            assert np.array_equal(columns.predictions, expected)
            info = await client.info()
            assert info.checksum == two_feature_model.checksum
            assert await client.health() == "SERVING"
            many = await asyncio.gather(
                *(client.predict({"bmi": bmi, "bp": bp}) for bmi, bp in X[:50].tolist())
            )
            assert [p.prediction for p in many] == expected[:50].tolist()

    asyncio.run(scenario())


def test_errors(two_feature_server: ServerProcess):
    async def scenario() -> None:
        async with AsyncPredictionClient(two_feature_server.target) as client:
            with pytest.raises(InvalidInputError) as caught:
                await client.predict({"bmi": 0.1})
            assert caught.value.message == "record.bp is missing; this model needs bmi, bp"
            with pytest.raises(InvalidInputError, match=r"records\[1\]\.bp is missing"):
                await client.predict_batch([{"bmi": 0.1, "bp": 0.1}, {"bmi": 0.1}])
            with pytest.raises(ValueError, match="unknown feature"):
                await client.predict({"glucose": 1.0})

    asyncio.run(scenario())
