"""What the docs say about behaviour, checked where the behaviour is set: what each Envoy
route retries (the rendered config), the shutdown delay each deployment uses (compose, the
Kubernetes manifests, the docs), and what a batch answer carries (the contract and the stack)."""

from __future__ import annotations

from typing import Any

import requests

from server.stack.stack import Stack
from tests.docs.docgen_tools import gen_docs, limits
from tests.docs.markdown import ROOT

SINGLE = "/diabetes.v1.PredictionService/*"
BATCH = "/diabetes.v1.PredictionService/PredictBatch"


def route(match: str) -> dict[str, Any]:
    found = {r["match"]: r for r in limits.routes()}
    assert match in found, sorted(found)
    return found[match]


def test_single_calls_are_retried_on_another_host() -> None:
    single = route(SINGLE)
    assert set(single["retry_on"]) == {
        "connect-failure",
        "refused-stream",
        "reset",
        "unavailable",
        # a server at --max-concurrent-rpcs refuses at once: another may have room
        "resource-exhausted",
    }
    assert single["num_retries"] == 2
    assert single["host_predicates"] == ["previous_hosts"]


def test_batch_streams_are_retried_only_when_no_server_did_any_work() -> None:
    batch = route(BATCH)
    # resource-exhausted: a server refused the stream over its budget before any reply.
    assert set(batch["retry_on"]) == {"connect-failure", "refused-stream", "resource-exhausted"}
    assert batch["host_predicates"] == ["previous_hosts"]
    assert batch["timeout"] == "0s"
    assert batch["max_stream_duration"] == "300s"


def test_the_docs_show_the_rendered_retries() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert limits.render_routes() in operations
    assert "never the same host" not in operations


def test_every_deployment_reports_not_serving_long_enough_and_is_waited_for() -> None:
    envoy = limits.envoy_config()["static_resources"]["clusters"][0]["health_checks"][0]
    check = limits._seconds(envoy["interval"]) + limits._seconds(envoy["timeout"])
    timings = limits.shutdown_timings()
    deployed = {name: t for name, t in timings.items() if "stop" in t}
    assert len(deployed) == 2
    for name, t in deployed.items():
        assert t["delay"] > check, f"{name}: a health check may miss NOT_SERVING"
        assert t["stop"] > t["delay"] + t["grace"], f"{name}: killed before draining ends"
    kubernetes = timings["Kubernetes (`deploy/base`)"]
    assert kubernetes["envoy_pre_stop"] >= kubernetes["delay"]


def test_the_docs_state_each_deployments_shutdown_delay() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert limits.render_shutdown() in operations
    deploy_readme = (ROOT / "deploy" / "README.md").read_text()
    compose = limits.shutdown_timings()["compose (`docker-compose.yml`)"]["delay"]
    assert f"-->{compose:g} s<!-- end --> (`DIABETES_SHUTDOWN_DELAY`)" in deploy_readme
    assert gen_docs.stale(["deploy/README.md", "docs/operations.md"]) == []


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_a_batch_answer_carries_intervals_only_when_asked_and_no_contributions(
    stack: Stack,
) -> None:
    """README: a single prediction has its interval and contributions; a batch answer has the
    predictions, their intervals only with include_intervals=true, and no contributions."""
    url = stack.http_url
    one = requests.post(f"{url}/stream", data='{"bmi": 0.05}', timeout=30).json()
    assert {"interval", "contributions"} <= set(one)
    for path, body in (("/batch", '[{"bmi": 0.05}]'), ("/batch/columns", '{"bmi": [0.05]}')):
        plain = requests.post(f"{url}{path}", data=body, timeout=30).json()
        asked = requests.post(f"{url}{path}?include_intervals=true", data=body, timeout=30)
        assert "contributions" not in _keys(plain) | _keys(asked.json())
        assert set(plain) == {"model_name", "model_version", "predictions", "out_of_range_indices"}
        assert len(asked.json()["lower"]) == len(asked.json()["upper"]) == 1
    readme = (ROOT / "README.md").read_text()
    assert "without\ncontributions" in readme
