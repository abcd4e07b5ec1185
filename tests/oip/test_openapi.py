"""The OpenAPI description: what Envoy serves is the committed, valid OpenAPI 3.1
document, and Schemathesis (from PyPI) generates requests from it against the real stack
through Envoy, bounded in count and time: no 5xx, and every answer matches its schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from model.artifact import LinearModel
from server.stack.stack import Stack

COMMITTED = Path(__file__).resolve().parents[2] / "web" / "openapi.json"
EXAMPLES_PER_OPERATION = 15


@pytest.fixture(scope="module")
def served(oip_stack: Stack) -> dict[str, Any]:
    reply = requests.get(f"{oip_stack.http_url}/openapi.json", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    document: dict[str, Any] = reply.json()
    return document


def test_envoy_serves_the_committed_valid_document(served: dict[str, Any]) -> None:
    assert served == json.loads(COMMITTED.read_text())
    validate(served)
    assert served["openapi"].startswith("3.1")
    assert {"/stream", "/batch", "/batch/columns", "/model"} <= set(served["paths"])
    assert "/v2/models/{model_name}/versions/{model_version}/infer" in served["paths"]


def _with_examples(document: dict[str, Any], model: LinearModel) -> dict[str, Any]:
    """The document plus valid inference requests for this model as explicit examples, so
    that the successful answers are checked too (random tensors are nearly always refused)."""
    document = copy.deepcopy(document)
    rows = [[0.01 * (i + 1)] * len(model.features) for i in range(3)]
    examples = {
        "one input per feature": {
            "inputs": [
                {"name": name, "shape": [3], "datatype": "FP64", "data": [r[j] for r in rows]}
                for j, name in enumerate(model.features)
            ]
        },
        "one [N, k] input, with intervals": {
            "inputs": [
                {"name": "x", "shape": [3, len(model.features)], "datatype": "FP32", "data": rows}
            ],
            "parameters": {"include_intervals": True},
            "id": "example",
        },
    }
    for path, methods in document["paths"].items():
        if path.endswith("/infer"):
            media = methods["post"]["requestBody"]["content"]["application/json"]
            media["examples"] = {name: {"value": value} for name, value in examples.items()}
    return document


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    served: dict[str, Any], oip_stack: Stack, oip_model: LinearModel
) -> None:
    schema = schemathesis.openapi.from_dict(_with_examples(served, oip_model))
    # Generated requests name the served model (unknown names are tested elsewhere).
    names = {"model_name": oip_model.name, "model_version": oip_model.version}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == sum(len(methods) for methods in served["paths"].values())
    checks = [not_a_server_error, response_schema_conformance]
    with requests.Session() as session:
        for operation in operations:
            examples = operation.get_strategies_from_examples()
            for strategy in [operation.as_strategy(), *examples]:

                @given(case=strategy)  # type: ignore[untyped-decorator]
                @settings(  # type: ignore[untyped-decorator]
                    max_examples=EXAMPLES_PER_OPERATION,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def run(case: Any) -> None:
                    for key in names.keys() & (case.path_parameters or {}).keys():
                        case.path_parameters[key] = names[key]
                    case.call_and_validate(
                        base_url=oip_stack.http_url, session=session, checks=checks, timeout=10
                    )

                run()
