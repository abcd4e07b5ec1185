"""The targets a run is judged against, and how each verdict is reached.

A throughput target's verdict is on its per-CPU ratio: CPU time of the serving processes
(server + Envoy) per request, the median over the run's rounds, against the other side's.
Every system runs pinned to the same CPU, so a request's CPU cost is what its rate on that
CPU would be without other load; the rate itself moved by 2x between two runs on a shared
machine (other processes take the CPU in bursts) where the CPU cost moved by a few percent.
The requests/s ratio is shown beside it. A verdict within `CLOSE` of its goal is flagged as
close: a second run may land on the other side of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bench.figures import ALL10, Figures, ratio

CLOSE = 0.10
BULK_SIZES = (10_000, 100_000)
REQUESTS_BASIS = "requests/s"
CPU_BASIS = "per CPU-second"

# Issue 22's table: each bulk face against MLServer (same number of records and features,
# gRPC against its gRPC, JSON against its REST), at both sizes.
BULK_GOALS = (
    ("grpc-batch-records", "gRPC PredictBatch, records form", "MLServer gRPC", 2.0),
    ("grpc-batch-columns", "gRPC PredictBatch, columns form", "MLServer gRPC", 3.5),
    ("json-batch", "JSON POST /batch", "MLServer REST", 1.0),
    ("json-batch-columns", "JSON POST /batch/columns", "MLServer REST", 1.5),
    ("v2-rest-infer", "V2 REST /infer via Envoy", "MLServer REST", 1.5),
    ("v2-grpc-infer", "V2 gRPC ModelInfer via Envoy", "MLServer gRPC", 2.5),
)
# Single-record calls at PER_CALL_CONCURRENCY: (name, goal, detail, our (system, path), the
# other side's (system, path)).
PER_CALL_CONCURRENCY = 32
PER_CALL_GOALS = (
    (
        "JSON POST /stream via Envoy, c=32: req/s vs MLServer REST",
        3.0,
        "Envoy and the server share CPU 0",
        ("service", "json-stream"),
        ("mlserver", "rest-infer"),
    ),
    (
        "JSON POST /stream via Envoy, c=32: req/s vs the no-op behind Envoy",
        0.95,
        "the same Envoy configuration, empty reply",
        ("service", "json-stream"),
        ("noop-envoy", "json-stream"),
    ),
    (
        "gRPC Predict, c=32: req/s vs MLServer gRPC",
        4.5,
        "direct to the server",
        ("service", "grpc-predict"),
        ("mlserver", "grpc-infer"),
    ),
    (
        "gRPC Predict, c=32: req/s vs no-op grpcio server",
        0.9,
        "same executor and options, empty reply",
        ("service", "grpc-predict"),
        ("noop", "grpc-predict"),
    ),
)
# Each bulk face against the no-op serving the same bodies on the same transport.
CEILING_GOAL = 0.8


@dataclass(frozen=True)
class Target:
    name: str
    ratio: float  # requests/s (or the figure itself); nan when a figure is missing
    goal: float
    at_most: bool  # True: the ratio must be <= goal (latency, memory, start-up)
    detail: str
    # For throughput targets: the same comparison per CPU-second of the serving processes
    # (server + Envoy), the figure the verdict is on when the run has it.
    cpu_ratio: float = math.nan
    figure: str = REQUESTS_BASIS  # what `ratio` compares

    @property
    def basis(self) -> str:
        return CPU_BASIS if not math.isnan(self.cpu_ratio) else self.figure

    @property
    def measured(self) -> float:
        """The figure the verdict is on."""
        return self.cpu_ratio if self.basis == CPU_BASIS else self.ratio

    @property
    def met(self) -> bool | None:
        value = self.measured
        if math.isnan(value):
            return None
        return value <= self.goal if self.at_most else value >= self.goal

    @property
    def close(self) -> bool:
        """Within CLOSE of the goal, on either side."""
        value = self.measured
        return not math.isnan(value) and abs(value / self.goal - 1) < CLOSE

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "basis": self.basis,
            "measured": self.measured,
            "met": self.met,
            "close": self.close,
        }


def _throughput(
    f: Figures,
    name: str,
    goal: float,
    detail: str,
    mine: tuple[str, str, int, int],
    theirs: tuple[str, str, int, int],
) -> Target:
    rate = ratio(f.rps(*mine), f.rps(*theirs))
    per_cpu = ratio(f.cpu_us(*theirs), f.cpu_us(*mine))
    return Target(name, rate, goal, False, detail, per_cpu)


def _per_call(f: Figures) -> list[Target]:
    return [
        _throughput(
            f,
            name,
            goal,
            detail,
            (*mine, PER_CALL_CONCURRENCY, 1),
            (*theirs, PER_CALL_CONCURRENCY, 1),
        )
        for name, goal, detail, mine, theirs in PER_CALL_GOALS
    ]


def _bulk(f: Figures, bc: int) -> list[Target]:
    targets = []
    for path, label, peer, goal in BULK_GOALS:
        for n in BULK_SIZES:
            targets.append(
                Target(
                    f"{label}, {n:,} records: records/s vs {peer}",
                    f.versus_peer(path, bc, n),
                    goal,
                    False,
                    f"concurrency {bc}, BMI only on both sides",
                    f.versus_peer_cpu(path, bc, n),
                )
            )
    return targets


def _ceilings(f: Figures, bc: int) -> list[Target]:
    targets = []
    for path, label, _peer, _goal in BULK_GOALS:
        for n in BULK_SIZES:
            targets.append(
                Target(
                    f"{label}, {n:,} records: records/s vs its transport ceiling",
                    f.versus_ceiling(path, bc, n),
                    CEILING_GOAL,
                    False,
                    "the no-op answering the same bodies with a reply of the same size",
                    f.versus_ceiling_cpu(path, bc, n),
                )
            )
    return targets


def _lower_is_better(f: Figures) -> list[Target]:
    return [
        Target(
            "p99 at c=1, gRPC Predict vs MLServer gRPC",
            ratio(f.p99("service", "grpc-predict", 1), f.p99("mlserver", "grpc-infer", 1)),
            0.5,
            True,
            "lower is better",
            figure="p99",
        ),
        Target(
            "p99 at c=1, JSON /stream via Envoy vs MLServer REST",
            ratio(f.p99("service", "json-stream", 1), f.p99("mlserver", "rest-infer", 1)),
            0.5,
            True,
            "lower is better",
            figure="p99",
        ),
        Target(
            "server RSS vs MLServer RSS (after load)",
            ratio(f.memory("server"), f.memory("mlserver")),
            0.5,
            True,
            "lower is better",
            figure="RSS",
        ),
        Target(
            "start-to-ready vs MLServer (median)",
            ratio(f.start("server"), f.start("mlserver")),
            0.5,
            True,
            "server: health SERVING; MLServer: model ready",
            figure="seconds",
        ),
    ]


def evaluate(results: Mapping[str, Any], batch_concurrency: int) -> list[Target]:
    """Every target, judged from the run's figures (missing figures: no verdict)."""
    f = Figures(results)
    return [
        *_per_call(f),
        *_bulk(f, batch_concurrency),
        *_ceilings(f, batch_concurrency),
        *_lower_is_better(f),
    ]


def verdict(target: Target, missing: str = "n/a") -> str:
    """met / MISSED / `missing`, with "close" when within CLOSE of the goal."""
    word = {True: "met", False: "MISSED", None: missing}[target.met]
    return f"{word}, close" if target.close else word


__all__ = ["ALL10", "CLOSE", "Target", "evaluate", "verdict"]
