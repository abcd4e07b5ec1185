"""Hot model reload through Envoy under load: SIGHUP and the file watch swap the model with
no failed call; a bad artifact is refused, logged, and the old model keeps serving."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.artifacts import write_test_artifact
from tests.support.ops import Load, replace_artifact
from tests.support.processes import wait_until
from tests.support.stack import log_text, running_stack


@pytest.fixture
def artifacts(tmp_path: Path) -> dict[str, Path]:
    return {
        "v1": write_test_artifact(tmp_path / "v1.json", version="reload-v1"),
        "v2": write_test_artifact(tmp_path / "v2.json", version="reload-v2", scale=2.0),
        "v3": write_test_artifact(tmp_path / "v3.json", version="reload-v3", scale=3.0),
        "serving": tmp_path / "serving" / "model.json",
    }


def _latest_versions(load: Load) -> set[str]:
    return {versions[-1] for versions in load.report.versions if versions}


def test_sighup_reload_under_load_loses_nothing_and_refuses_a_bad_artifact(
    artifacts: dict[str, Path],
) -> None:
    serving = artifacts["serving"]
    serving.parent.mkdir()
    replace_artifact(serving, artifacts["v1"])
    with running_stack(servers=1, model=serving) as stack:
        server = stack.servers[0]
        with Load(stack.grpc_target, threads=4) as load:
            load.wait_for_calls(200)
            replace_artifact(serving, artifacts["v2"])
            server.signal(signal.SIGHUP)
            wait_until(lambda: _latest_versions(load) == {"reload-v2"}, 20, "v2 everywhere")
            load.wait_for_calls(200)

            serving.write_text('{"version": "broken", "coefficients": [')
            server.signal(signal.SIGHUP)
            name = f"server-{stack.server_ports[0]}"
            wait_until(lambda: "model reload refused" in log_text(stack, name), 20, "refusal")
            load.wait_for_calls(200)
        report = load.report
        print(report.summary("reload under load"), f"versions per client={report.versions}")
        assert report.failed == 0, report.errors
        # Every client saw v1 then v2, never back: the swap is atomic and final.
        for versions in report.versions:
            assert versions == ["reload-v1", "reload-v2"]
        assert server.alive()
        refusal = [
            line for line in log_text(stack, name).splitlines() if "model reload refused" in line
        ]
        assert '"level": "ERROR"' in refusal[0]
        assert "reload-v2" in refusal[0]


def test_file_watch_reloads_under_load(artifacts: dict[str, Path]) -> None:
    serving = artifacts["serving"]
    serving.parent.mkdir()
    replace_artifact(serving, artifacts["v1"])
    with (
        running_stack(servers=1, model=serving, server_args=("--watch-model", "true")) as stack,
        Load(stack.grpc_target, threads=2) as load,
    ):
        load.wait_for_calls(100)
        replace_artifact(serving, artifacts["v3"])
        wait_until(lambda: _latest_versions(load) == {"reload-v3"}, 20, "the watched reload")
        load.wait_for_calls(100)
    print(load.report.summary("file watch reload"))
    assert load.report.failed == 0, load.report.errors
    assert all(versions == ["reload-v1", "reload-v3"] for versions in load.report.versions)
