"""The runbook's capacity guidance comes from the committed run, the manifests and the Envoy
config: each test changes one input (a copy, monkeypatched, nothing written) and sees the
rendered figure move and `make docs-check` name the stale page; the arithmetic is recomputed
here from the JSON; and Envoy's container limit holds its heap cap plus its idle RSS."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docs.docgen_tools import capacity, command, figures, gen_docs, limits

STREAM = "service:json-stream:c32:n1"
ENVOY_CONFIGS = (
    "deploy/base/envoy/envoy.yaml",
    "deploy/overlays/production/envoy/envoy.yaml",
    "deploy/compose/envoy-production.yaml",
)


def _changed_run(monkeypatch: pytest.MonkeyPatch, key: str, field: str, factor: float) -> None:
    results: dict[str, Any] = copy.deepcopy(dict(figures.bench_results()))
    (point,) = [p for p in results["points"] if p["key"] == key]
    point[field] *= factor

    def changed() -> Mapping[str, Any]:
        return results

    monkeypatch.setattr(figures, "bench_results", changed)


def _stale_pages() -> list[str]:
    stale = gen_docs.stale()
    assert command.main(["--check"]) == 1
    return stale


def test_requests_per_server_cpu_is_a_million_over_the_runs_server_cpu() -> None:
    results = figures.bench_results()
    by_key = {p["key"]: p for p in results["points"]}
    table = figures.bench_figure("capacity-per-cpu")
    for face in capacity.faces(results):
        point = by_key[f"service:{face.path}:c{face.concurrency}:n{face.records}"]
        row = next(line for line in table.splitlines() if line.startswith(f"| {face.name} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[3] == f"{1e6 / point['server_cpu_us']:,.0f}"
        assert cells[6] == f"{1e6 / point['envoy_cpu_us']:,.0f}"


def test_a_changed_server_cpu_in_the_run_changes_the_guidance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = figures.bench_figure("capacity-stream-per-server-cpu")
    _changed_run(monkeypatch, STREAM, "server_cpu_us", 2.0)
    after = figures.bench_figure("capacity-stream-per-server-cpu")
    assert after != before
    assert float(after.replace(",", "")) == pytest.approx(float(before.replace(",", "")) / 2, abs=1)
    assert "docs/runbook.md" in _stale_pages()


def test_a_changed_envoy_cpu_in_the_run_changes_the_replicas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = figures.bench_figure("capacity-example")
    _changed_run(monkeypatch, STREAM, "envoy_cpu_us", 3.0)
    assert figures.bench_figure("capacity-example") != before
    assert "docs/runbook.md" in _stale_pages()


def test_a_changed_hpa_target_changes_the_guidance(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hpa = yaml.safe_load(capacity.K8S_HPA.read_text())
    hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = 60
    changed = tmp_path / "server-hpa.yaml"
    changed.write_text(yaml.safe_dump(hpa))
    monkeypatch.setattr(capacity, "K8S_HPA", changed)
    assert figures.bench_figure("capacity-hpa-target") == "60%"
    assert figures.bench_figure("capacity-pod-cpu-at-target") == "0.3 CPU"
    assert "docs/runbook.md" in _stale_pages()


def test_a_changed_heap_cap_changes_the_memory_guidance(monkeypatch: pytest.MonkeyPatch) -> None:
    config = limits.envoy_config()
    for monitor in config["overload_manager"]["resource_monitors"]:
        if monitor["name"].endswith("fixed_heap"):
            monitor["typed_config"]["max_heap_size_bytes"] *= 2
    monkeypatch.setattr(limits, "envoy_config", lambda: config)
    stale = _stale_pages()
    assert "docs/runbook.md" in stale
    assert "docs/operations.md" in stale


def test_envoys_memory_limit_holds_its_heap_cap_and_its_idle_rss() -> None:
    """The sizing rule the runbook states, for every Envoy config a deployment uses."""
    memory = capacity.envoy_memory(figures.bench_results())
    limit = capacity.deployment().envoy_memory_limit
    for name in ENVOY_CONFIGS:
        config = yaml.safe_load((capacity.ROOT / name).read_text())
        (heap,) = [
            m["typed_config"]["max_heap_size_bytes"]
            for m in config["overload_manager"]["resource_monitors"]
            if m["name"].endswith("fixed_heap")
        ]
        assert heap + memory.idle_rss <= limit, name
    # And at least one full-size JSON body fits before Envoy refuses new requests.
    assert memory.bodies_below(memory.stop_accepting) >= 1


def test_the_reset_action_reaches_a_full_body_before_requests_are_refused() -> None:
    memory = capacity.envoy_memory(figures.bench_results())
    assert memory.reset_level(memory.body_cap // 2) < memory.stop_accepting
    assert memory.reset_all <= memory.stop_accepting
    assert math.isclose(
        memory.reset_level(memory.min_tracked),
        memory.reset_from + 7 / 8 * (memory.reset_all - memory.reset_from),
    )


def test_the_server_pods_limit_holds_its_baseline_and_one_maximal_call_of_each_kind() -> None:
    """The server's sizing rule the runbook states: the budget (limit − baseline) admits at
    least one bulk call and one maximal request of every bulk method, and the pod's peak
    (baseline + budget) is its limit."""
    from server.bounds import request_bounds as bounds
    from server.config import ServerConfig

    server = capacity._kind(limits.K8S_SERVER, "Deployment")["spec"]["template"]["spec"]
    limit = capacity._bytes(server["containers"][0]["resources"]["limits"]["memory"])
    config = ServerConfig()
    budget = limit - config.memory_baseline_bytes
    largest = config.max_receive_message_bytes
    assert bounds.bulk_calls_for(budget, largest, config.traffic_calls) >= 1
    json_cap = capacity.envoy_memory(figures.bench_results()).body_cap
    assert bounds.BULK["diabetes.v1.PredictionService.PredictBatch"][0] * largest < budget
    assert (
        bounds.BULK["diabetes.v1.JsonPredictionService.PredictJsonRecords"][0] * json_cap < budget
    )


def test_a_changed_server_memory_limit_changes_the_server_memory_guidance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documents = capacity._documents(limits.K8S_SERVER)
    for document in documents:
        if document["kind"] == "Deployment":
            container = document["spec"]["template"]["spec"]["containers"][0]
            container["resources"]["limits"]["memory"] = "768Mi"
    original = capacity._kind
    monkeypatch.setattr(
        capacity,
        "_kind",
        lambda path, kind: (
            next(d for d in documents if d["kind"] == kind)
            if path == limits.K8S_SERVER
            else original(path, kind)
        ),
    )
    assert "docs/runbook.md" in _stale_pages()
