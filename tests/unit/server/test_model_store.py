"""The model store: names that are not valid are INVALID_ARGUMENT before any lookup on
every face, a reload keeps what went bad serving from memory, and the refused-files gauge
follows the last load."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry

from model.repository import BUNDLED_REPOSITORY, DEFAULT_MODEL
from server.errors import InvalidInputError, ModelNotFoundError
from server.inference import Inference, Limits, ModelRef
from server.metrics import ServerMetrics
from server.metrics import definitions as defs
from server.model_store import ModelStore
from server.rpc import CallObserver


def served_model(store: ModelStore, name: str, version: str) -> object:
    """The Open Inference Protocol's lookup (the model always named), through the core."""
    limits = Limits(max_batch_records=10, batch_chunk_records=10, max_receive_message_bytes=1024)
    core = Inference(store, limits, CallObserver(access_log=None))
    return core.resolve(ModelRef(name, version, named=True))


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    root = tmp_path / "models"
    shutil.copytree(BUNDLED_REPOSITORY, root)
    return ModelStore(root)


def _typed_and_json(store: ModelStore, name: str) -> object:
    return store.resolve(name)


def _open_inference(store: ModelStore, name: str) -> object:
    return served_model(store, name, "")


@pytest.mark.parametrize("resolve", [_typed_and_json, _open_inference])
def test_a_long_name_is_invalid_argument_quoting_64_characters(
    store: ModelStore, resolve: Callable[[ModelStore, str], object]
) -> None:
    with pytest.raises(InvalidInputError) as error:
        resolve(store, "n" * 200_000)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert str(error.value).startswith(
        f'model name "{"n" * 64}"... (200,000 characters) is not valid: expected a letter'
    )
    assert len(str(error.value)) < 300


def test_a_version_that_is_not_a_name_is_invalid_argument(store: ModelStore) -> None:
    with pytest.raises(InvalidInputError, match=r'^model version "\.\./x" is not valid'):
        store.resolve(DEFAULT_MODEL, "../x")
    with pytest.raises(InvalidInputError, match=r'^model version "a b" is not valid'):
        served_model(store, DEFAULT_MODEL, "a b")


def test_a_valid_name_not_served_is_still_not_found(store: ModelStore) -> None:
    with pytest.raises(ModelNotFoundError, match=r'^no model "nope"; this server serves'):
        store.resolve("nope")
    with pytest.raises(ModelNotFoundError, match=r'^model "nope" is not served here'):
        served_model(store, "nope", "")


def test_a_reload_serves_from_memory_what_went_bad(store: ModelStore) -> None:
    served = store.current
    (store.path / f"{DEFAULT_MODEL}.json").write_text("{")
    assert store.reload()
    assert store.current is served
    (refused,) = store.repository.refused
    assert (refused.path, refused.still_served) == (f"{DEFAULT_MODEL}.json", True)


def test_the_refused_files_gauge_follows_the_last_load() -> None:
    metrics = ServerMetrics(CollectorRegistry())
    metrics.files_refused(["m", "m", ""])
    assert metrics.samples()[defs.FILES_REFUSED.name] == {("m",): [2.0], ("",): [1.0]}
    metrics.files_refused([])
    assert metrics.samples()[defs.FILES_REFUSED.name] == {("m",): [0.0], ("",): [0.0]}
