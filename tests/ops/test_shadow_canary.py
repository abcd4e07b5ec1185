"""Roll-outs that check themselves, through Envoy under load (issue 24):

- a shadow version that differs from stable on a known subset of inputs: the report counts
  exactly the records sent and exactly that subset beyond stable's interval, and callers'
  answers (JSON and gRPC, single and batch, V2) are stable's byte for byte;
- a canary whose predictions leave stable's interval is rolled back by its guard within the
  window while gRPC and JSON callers call without pause, none failing; the breach shows in
  the repository, `diabetes-models list`, the metrics and the log;
- promotion of that canary refused, then allowed with `--force`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT, load_artifact, save_artifact
from model.repository import read_labels
from server.stack.processes import free_port
from tests.ops.test_rollout import JsonLoad, diabetes_models
from tests.support.ops import Load
from tests.support.processes import wait_until
from tests.support.stack import log_text, running_stack

RAW = load_artifact(RAW_UNITS_ARTIFACT)
SHADOW_VERSION = "bmi-raw-shadow-1"
CANARY_VERSION = "bmi-raw-canary-1"
# The shadow answers 20 * (bmi - 30) more than stable: within stable's 95% interval
# (half-width about 124) for these, far beyond it for the others.
INSIDE = (25.0, 27.0, 30.0, 31.0)
BEYOND = (40.0, 41.0, 42.0)


def variant(path: Path, version: str, slope: float, pivot: float, shift: float) -> Path:
    """RAW with its coefficient raised by `slope` around `pivot`, plus `shift`."""
    document = dict(RAW.document)
    document["version"] = version
    document["coefficients"] = [RAW.document["coefficients"][0] + slope]
    document["intercept"] = RAW.document["intercept"] - slope * pivot + shift
    sealed = {
        k: v for k, v in document.items() if k not in ("checksum", "format", "format_version")
    }
    return save_artifact(sealed, path)


def models_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model.models_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def compared_on(url: str) -> float:
    """Records this server compared for RAW's shadow."""
    text = requests.get(url, timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "diabetes_shadow_compared_total"
        and sample.labels.get("model") == RAW.name
        and sample.labels.get("version") == SHADOW_VERSION
    )


def shadow_report(urls: list[str]) -> dict[str, Any]:
    args = ["report", RAW.name, "--json"]
    for url in urls:
        args += ["--server", url]
    documents = json.loads(diabetes_models(*args))
    return next(d for d in documents if d["role"] == "shadow" and d["version"] == SHADOW_VERSION)


class Caller:
    """One of every kind of call on RAW through Envoy; each answer's bytes."""

    def __init__(self, http_url: str, grpc_target: str) -> None:
        self.http_url = http_url
        self.channel = grpc.insecure_channel(grpc_target)
        self.stub = pb_grpc.PredictionServiceStub(self.channel)

    def answers(self, values: tuple[float, ...]) -> list[bytes]:
        got = []
        for bmi in values:
            reply = requests.post(
                f"{self.http_url}/stream", params={"model": RAW.name}, json={"bmi": bmi}, timeout=10
            )
            assert reply.status_code == 200, reply.text
            got.append(reply.content)
            answer = self.stub.Predict(
                pb.PredictRequest(model=RAW.name, record=pb.Record(bmi=bmi)), timeout=10
            )
            got.append(answer.SerializeToString(deterministic=True))
        batch = requests.post(
            f"{self.http_url}/batch",
            params={"model": RAW.name, "include_intervals": "true"},
            json=[{"bmi": bmi} for bmi in values],
            timeout=10,
        )
        assert batch.status_code == 200, batch.text
        got.append(batch.content)
        streamed = self.stub.PredictBatch(
            pb.PredictBatchRequest(model=RAW.name, records=[pb.Record(bmi=bmi) for bmi in values]),
            timeout=10,
        )
        got.extend(part.SerializeToString(deterministic=True) for part in streamed)
        v2 = requests.post(
            f"{self.http_url}/v2/models/{RAW.name}/infer",
            json={
                "inputs": [
                    {
                        "name": "bmi",
                        "datatype": "FP64",
                        "shape": [len(values)],
                        "data": list(values),
                    }
                ]
            },
            timeout=10,
        )
        assert v2.status_code == 200, v2.text
        got.append(v2.content)
        return got

    @staticmethod
    def records(values: tuple[float, ...]) -> int:
        """Records `answers(values)` compares: each value twice, then three batches."""
        return 2 * len(values) + 3 * len(values)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    diabetes_models("add", "--repository", str(root), str(BUNDLED_ARTIFACT))
    diabetes_models("add", "--repository", str(root), str(RAW_UNITS_ARTIFACT))
    return root


def test_shadow_counts_exactly_the_differing_subset_and_answers_stay_stables(
    repository: Path, tmp_path: Path
) -> None:
    repo = ("--repository", str(repository))
    diabetes_models("add", *repo, str(variant(tmp_path / "s.json", SHADOW_VERSION, 20, 30, 0)))
    with (
        running_stack(
            servers=2,
            model_repository=repository,
            metrics_ports=(free_port(), free_port()),
            server_args=("--watch-model", "true"),
        ) as stack,
        Load(stack.grpc_target, threads=2, max_seconds=120) as grpc_load,
    ):
        urls = stack.options.metrics_urls
        caller = Caller(stack.http_url, stack.grpc_target)
        before = caller.answers(INSIDE + BEYOND)

        diabetes_models("shadow", *repo, RAW.name, SHADOW_VERSION)
        # Until every server has read the label, probe with a record the shadow agrees on.
        probe = (30.0,)
        wait_until(
            lambda: bool(caller.answers(probe)) and all(compared_on(url) > 0 for url in urls),
            30,
            "every server comparing the shadow",
        )
        start = shadow_report(urls)
        after = caller.answers(INSIDE + BEYOND)
        end = shadow_report(urls)
        grpc_load.wait_for_calls(20)
        caller.channel.close()

    assert after == before  # the callers' bytes are stable's, shadow or not
    assert end["compared"] - start["compared"] == Caller.records(INSIDE + BEYOND)
    assert end["beyond_interval"] - start["beyond_interval"] == Caller.records(BEYOND)
    assert end["max_abs_diff"] == pytest.approx(20 * (max(BEYOND) - 30))
    worst = end["worst"][0]
    assert worst["inputs"] == {"bmi": max(BEYOND)}
    assert worst["prediction"] - worst["stable_prediction"] == pytest.approx(240)
    assert list(end["moved_most"]) == ["bmi"]
    assert grpc_load.report.failed == 0, grpc_load.report.errors


def test_canary_leaving_stables_interval_is_rolled_back_by_its_guard_under_load(
    repository: Path, tmp_path: Path
) -> None:
    repo = ("--repository", str(repository))
    canary = variant(tmp_path / "c.json", CANARY_VERSION, 0, 0, 300)  # 300 above stable
    diabetes_models("add", *repo, str(canary))
    grpc_request = pb.PredictRequest(model=RAW.name, record=pb.Record(bmi=31.0))
    with running_stack(
        servers=2,
        model_repository=repository,
        metrics_ports=(free_port(), free_port()),
        server_args=("--watch-model", "true"),
    ) as stack:
        grpc_load = Load(stack.grpc_target, threads=2, max_seconds=120)
        grpc_load.request = grpc_request
        with grpc_load, JsonLoad(stack.http_url, threads=2, max_seconds=120) as json_load:
            wait_until(json_load.settles_on(RAW.version), 30, "answers from stable")
            diabetes_models(
                "canary", *repo, RAW.name, CANARY_VERSION, "--percent", "50",
                "--guard", "beyond_interval_share<0.05", "--window", "30s",
                "--min-compared", "10",
            )  # fmt: skip
            manifest = repository / RAW.name / "labels.json"
            wait_until(
                lambda: read_labels(manifest).guard.breached is not None,  # type: ignore[union-attr]
                30,
                "the guard firing within its window",
            )
            wait_until(json_load.settles_on(RAW.version, calls=60), 30, "stable everywhere")
            grpc_load.wait_for_calls(50)
            metrics = [requests.get(url, timeout=10).text for url in stack.options.metrics_urls]
            logs = "".join(log_text(stack, f"server-{port}") for port in stack.server_ports)

    labels = read_labels(manifest)
    assert labels.canary == CANARY_VERSION
    assert labels.canary_percent == 0.0
    breach = labels.guard.breached  # type: ignore[union-attr]
    assert breach is not None
    assert (breach.version, breach.figure, breach.expression) == (
        CANARY_VERSION, "beyond_interval_share", "beyond_interval_share<0.05",
    )  # fmt: skip
    assert breach.value == 1.0  # every canary answer was 300 above stable's
    assert breach.by.startswith("guard@")
    assert labels.changes[-1]["change"] == "canary rolled back"
    assert labels.changes[-1]["by"] == breach.by
    listed = json.loads(diabetes_models("list", *repo))
    raw = next(model for model in listed if model["name"] == RAW.name)
    assert raw["labels"]["guard"]["breached"]["figure"] == "beyond_interval_share"
    fired = sum(
        sample.value
        for text in metrics
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "diabetes_guard_breaches_total"
        and sample.labels == {"model": RAW.name, "version": CANARY_VERSION,
                              "figure": "beyond_interval_share"}
    )  # fmt: skip
    assert fired >= 1
    assert "canary rolled back by its guard" in logs
    assert json_load.failures == []
    assert grpc_load.report.failed == 0, grpc_load.report.errors

    refused = models_cli("promote", *repo, RAW.name)
    assert refused.returncode == 1
    assert f"refusing to promote '{CANARY_VERSION}': its guard fired" in refused.stderr
    assert "--force promotes it anyway" in refused.stderr
    assert read_labels(manifest).stable == RAW.version
    forced = models_cli("promote", *repo, RAW.name, "--force")
    assert forced.returncode == 0, forced.stderr
    assert read_labels(manifest).stable == CANARY_VERSION
    assert read_labels(manifest).changes[-1]["detail"] == f"stable {CANARY_VERSION} (forced)"
