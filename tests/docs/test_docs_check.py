"""`make docs-check` (`python -m tools.docs --check`) fails when a flag default, a limit, an
error message or a benchmark figure changes under the docs: each test changes one source the
renderer reads (monkeypatched, nothing written) and sees the check name the stale pages."""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import server.config
import server.settings
from model.estimator import SimpleLinearRegression
from tests.docs.docgen_tools import abuse, command, errors, figures, gen_docs, limits, markers


def check_fails(monkeypatch: pytest.MonkeyPatch, *pages: str) -> None:
    stale = gen_docs.stale()
    for page in pages:
        assert page in stale, stale
    assert command.main(["--check"]) == 1


def test_the_docs_are_fresh_to_begin_with() -> None:
    assert gen_docs.stale() == []
    assert command.main(["--check"]) == 0


def test_a_changed_flag_default_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    changed = functools.partial(server.config.ServerConfig, threads=17)
    monkeypatch.setattr(server.config, "ServerConfig", changed)
    # The flag's declaration took its default from ServerConfig when the module loaded.
    settings = tuple(
        dataclasses.replace(s, default=17) if s.name == "threads" else s
        for s in server.settings.SETTINGS
    )
    monkeypatch.setattr(server.settings, "SETTINGS", settings)
    check_fails(monkeypatch, "docs/runbook.md", "docs/operations.md")


def test_a_changed_route_timeout_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    config = limits.envoy_config()
    for route in limits._public(config)["manager"]["route_config"]["virtual_hosts"][0]["routes"]:
        retry = route.get("route", {}).get("retry_policy", {})
        if "per_try_timeout" in retry:
            retry["per_try_timeout"] = "6s"
    monkeypatch.setattr(limits, "envoy_config", lambda: config)
    check_fails(monkeypatch, "docs/api.md", "docs/operations.md")


def test_a_changed_error_message_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    first, *rest = errors.ERRORS
    reworded = dataclasses.replace(first, message=first.message + " (reworded)")
    monkeypatch.setattr(errors, "ERRORS", (reworded, *rest))
    check_fails(monkeypatch, "docs/api.md")


def test_a_changed_benchmark_figure_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    results: dict[str, Any] = copy.deepcopy(dict(figures.bench_results()))
    for point in results["points"]:
        if point["key"] == "noop-envoy:json-stream:c32:n1":
            point["requests_per_s"] *= 1.1

    def changed() -> Mapping[str, Any]:
        return results

    monkeypatch.setattr(figures, "bench_results", changed)
    check_fails(monkeypatch, "docs/performance.md")


def test_every_section_in_the_docs_renders() -> None:
    """No page names a section the generators do not know (a typo would fail the check)."""
    for document in gen_docs.DOCUMENTS:
        text = gen_docs.expected(document)
        for name in markers.names(text):
            assert gen_docs.render_section(name).strip(), f"{document}: {name} renders nothing"


def test_the_check_trains_nothing_and_needs_no_graphviz(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make check` runs this on a machine without Graphviz, and fits no model."""

    def no_fit(*args: object, **kwargs: object) -> None:
        raise AssertionError("the docs check fitted a model")

    monkeypatch.setattr(SimpleLinearRegression, "fit", no_fit)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot`, no other program either
    assert command.main(["--check"]) == 0
    assert capsys.readouterr().out == (
        "docs: fresh (documents, OpenAPI description, diagrams, complexity run)\n"
    )


def test_a_changed_abuse_figure_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    results: dict[str, Any] = copy.deepcopy(dict(abuse.abuse_results()))
    first = next(iter(results["cases"].values()))
    first["envoy"]["peak"] += 10 * 1024 * 1024
    monkeypatch.setattr(abuse, "abuse_results", lambda: results)
    check_fails(monkeypatch, "docs/operations.md")
