"""The targets, and the one table a run prints (also rebuilt from a saved JSON file)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.points import FOREIGN_LOAD_WARNING, point_key

TEN_K = 10_000


@dataclass(frozen=True)
class Target:
    name: str
    ratio: float  # measured; nan when a figure is missing
    goal: float
    at_most: bool  # True: the ratio must be <= goal (latency, memory, start-up)
    detail: str
    # For throughput targets: the same comparison per CPU-second of the serving processes
    # (server + Envoy), which other load on a shared machine disturbs much less.
    cpu_ratio: float = math.nan

    @property
    def met(self) -> bool | None:
        if math.isnan(self.ratio):
            return None
        return self.ratio <= self.goal if self.at_most else self.ratio >= self.goal

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


class Figures:
    """Look-ups into a results document (as written to JSON)."""

    def __init__(self, results: Mapping[str, Any]) -> None:
        self.results = results
        self.points: dict[str, Mapping[str, Any]] = {p["key"]: p for p in results["points"]}

    def point(self, system: str, path: str, concurrency: int, records: int) -> Mapping[str, Any]:
        found = self.points.get(point_key(system, path, concurrency, records))
        if found is None or found.get("error"):
            return {}
        return found

    def value(self, system: str, path: str, c: int, n: int, name: str) -> float:
        return _opt(self.point(system, path, c, n).get(name))

    def rps(self, system: str, path: str, c: int, n: int = 1) -> float:
        return self.value(system, path, c, n, "requests_per_s")

    def records_per_s(self, system: str, path: str, c: int, n: int) -> float:
        return self.value(system, path, c, n, "records_per_s")

    def p99(self, system: str, path: str, c: int) -> float:
        return self.value(system, path, c, 1, "p99_ms")

    def cpu_us(self, system: str, path: str, c: int, n: int = 1) -> float:
        """CPU time of the serving processes (server and Envoy) per request."""
        point = self.point(system, path, c, n)
        return _opt(point.get("server_cpu_us")) + _opt(point.get("envoy_cpu_us") or 0.0)

    def memory(self, name: str) -> float:
        return float(self.results.get("memory_mib", {}).get(name, math.nan))

    def start(self, name: str) -> float:
        entry = self.results.get("start_to_ready_s", {}).get(name)
        return float(entry["median"]) if entry else math.nan

    def ceiling(self, name: str) -> float:
        return float(self.results.get("ceilings", {}).get("records_per_s", {}).get(name, math.nan))


def ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return math.nan
    return numerator / denominator


def _best(figures: Figures, system: str, paths: Sequence[str], c: int, n: int) -> tuple[float, str]:
    candidates = [(figures.records_per_s(system, p, c, n), p) for p in paths]
    candidates = [(v, p) for v, p in candidates if not math.isnan(v)]
    return max(candidates) if candidates else (math.nan, "none")


def _cpu_ratio(
    f: Figures, mine: tuple[str, str, int, int], theirs: tuple[str, str, int, int]
) -> float:
    """How many more requests per CPU-second `mine` serves than `theirs`."""
    return ratio(f.cpu_us(*theirs), f.cpu_us(*mine))


def evaluate(results: Mapping[str, Any], batch_concurrency: int) -> list[Target]:
    f = Figures(results)
    bc = batch_concurrency
    grpc_batch, grpc_form = _best(
        f, "service", ["grpc-batch-records", "grpc-batch-columns"], bc, TEN_K
    )
    json_batch, json_form = _best(f, "service", ["json-batch", "json-batch-columns"], bc, TEN_K)
    return [
        Target(
            "JSON POST /stream via Envoy, c=32: req/s vs MLServer REST",
            ratio(f.rps("service", "json-stream", 32), f.rps("mlserver", "rest-infer", 32)),
            3.0,
            False,
            "Envoy and the server share CPU 0",
            _cpu_ratio(f, ("service", "json-stream", 32, 1), ("mlserver", "rest-infer", 32, 1)),
        ),
        Target(
            "gRPC Predict, c=32: req/s vs MLServer gRPC",
            ratio(f.rps("service", "grpc-predict", 32), f.rps("mlserver", "grpc-infer", 32)),
            4.5,
            False,
            "direct to the server",
            _cpu_ratio(f, ("service", "grpc-predict", 32, 1), ("mlserver", "grpc-infer", 32, 1)),
        ),
        Target(
            "gRPC Predict, c=32: req/s vs no-op grpcio server",
            ratio(f.rps("service", "grpc-predict", 32), f.rps("noop", "grpc-predict", 32)),
            0.9,
            False,
            "same executor and options, empty reply",
            _cpu_ratio(f, ("service", "grpc-predict", 32, 1), ("noop", "grpc-predict", 32, 1)),
        ),
        Target(
            "10,000-record batch, gRPC: records/s vs MLServer gRPC",
            ratio(grpc_batch, f.records_per_s("mlserver", "grpc-infer", bc, TEN_K)),
            2.0,
            False,
            f"best form: {grpc_form}",
            _cpu_ratio(f, ("service", grpc_form, bc, TEN_K), ("mlserver", "grpc-infer", bc, TEN_K)),
        ),
        Target(
            "10,000-record batch, JSON: records/s vs MLServer REST",
            ratio(json_batch, f.records_per_s("mlserver", "rest-infer", bc, TEN_K)),
            1.0,
            False,
            f"best form: {json_form}",
            _cpu_ratio(f, ("service", json_form, bc, TEN_K), ("mlserver", "rest-infer", bc, TEN_K)),
        ),
        Target(
            "p99 at c=1, gRPC Predict vs MLServer gRPC",
            ratio(f.p99("service", "grpc-predict", 1), f.p99("mlserver", "grpc-infer", 1)),
            0.5,
            True,
            "lower is better",
        ),
        Target(
            "p99 at c=1, JSON /stream via Envoy vs MLServer REST",
            ratio(f.p99("service", "json-stream", 1), f.p99("mlserver", "rest-infer", 1)),
            0.5,
            True,
            "lower is better",
        ),
        Target(
            "server RSS vs MLServer RSS (after load)",
            ratio(f.memory("server"), f.memory("mlserver")),
            0.5,
            True,
            "lower is better",
        ),
        Target(
            "start-to-ready vs MLServer (median)",
            ratio(f.start("server"), f.start("mlserver")),
            0.5,
            True,
            "server: health SERVING; MLServer: model ready",
        ),
    ]


# -- rendering -----------------------------------------------------------------------------

REQUEST_ROWS = (
    ("service", "grpc-predict", "gRPC Predict, direct", "grpc"),
    ("service", "grpc-envoy-predict", "gRPC Predict, via Envoy", "grpc"),
    ("service", "json-stream", "JSON POST /stream, via Envoy", "json"),
    ("noop", "grpc-predict", "no-op grpcio (ceiling)", "grpc"),
    ("noop-aio", "grpc-predict", "no-op grpc.aio (reference)", "grpc"),
    ("noop-envoy", "json-stream", "no-op behind Envoy, /stream", "json"),
    ("mlserver", "grpc-infer", "MLServer gRPC ModelInfer", "grpc"),
    ("mlserver", "rest-infer", "MLServer REST /infer", "json"),
)
BATCH_ROWS = (
    ("service", "grpc-batch-records", "gRPC PredictBatch, records", "grpc", "protobuf_records"),
    ("service", "grpc-batch-columns", "gRPC PredictBatch, columns", "grpc", "protobuf_columns"),
    ("service", "json-batch", "JSON POST /batch", "json", ""),
    ("service", "json-batch-columns", "JSON POST /batch/columns", "json", ""),
    ("service", "json-batch-all10", "JSON POST /batch, all 10 features", "json", ""),
    ("service", "v2-grpc-infer", "V2 gRPC ModelInfer, via Envoy", "grpc", ""),
    ("service", "v2-rest-infer", "V2 REST /infer, via Envoy", "json", ""),
    ("mlserver", "grpc-infer", "MLServer gRPC ModelInfer", "grpc", ""),
    ("mlserver", "rest-infer", "MLServer REST /infer", "json", ""),
)
PEER_PATH = {"grpc": "grpc-infer", "json": "rest-infer"}


def _num(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _times(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}×"


def render(results: Mapping[str, Any], batch_concurrency: int) -> str:
    f = Figures(results)
    lines: list[str] = []
    add = lines.append
    ceilings = results.get("ceilings", {})
    add(f"Ceilings, in process, {ceilings.get('records', TEN_K):,} records, pinned")
    for name, value in ceilings.get("records_per_s", {}).items():
        add(f"  {name:<34}{_num(value):>18} records/s")
    add("")
    header = (
        f"{'1 record per request':<32}{'c':>3}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'srv µs':>8}{'envoy µs':>9}{'×MLServer':>10}{'×no-op':>8}"
    )
    add(header)
    add("-" * len(header))
    for system, path, label, kind in REQUEST_ROWS:
        for c in (1, 32):
            p = f.point(system, path, c, 1)
            rps = _opt(p.get("requests_per_s"))
            versus_peer = ratio(rps, f.rps("mlserver", PEER_PATH[kind], c))
            noop = ("noop", "grpc-predict") if kind == "grpc" else ("noop-envoy", "json-stream")
            versus_noop = ratio(rps, f.rps(*noop, c))
            add(
                f"{label:<32}{c:>3}{_num(rps):>10}"
                f"{_num(_opt(p.get('p50_ms')), 2):>9}"
                f"{_num(_opt(p.get('p99_ms')), 2):>9}"
                f"{_num(_opt(p.get('server_cpu_us'))):>8}{_num(_opt(p.get('envoy_cpu_us'))):>9}"
                f"{'' if system == 'mlserver' else _times(versus_peer):>10}"
                f"{_times(versus_noop) if system in ('service', 'noop-aio') else '':>8}"
            )
    add("")
    sizes = sorted(
        {int(p["records"]) for p in results["points"] if p["concurrency"] == batch_concurrency}
    )
    header = f"{f'records/s, c={batch_concurrency}':<32}" + "".join(f"{n:>13,}" for n in sizes)
    header += f"{'×ceiling@10k':>14}"
    add(header)
    add("-" * len(header))
    for system, path, label, kind, ceiling in BATCH_ROWS:
        row = f"{label:<32}"
        for n in sizes:
            row += f"{_num(f.records_per_s(system, path, batch_concurrency, n)):>13}"
        if ceiling:
            ten_k = f.records_per_s(system, path, batch_concurrency, TEN_K)
            row += f"{_times(ratio(ten_k, f.ceiling(ceiling))):>14}"
        add(row)
        if system == "service":
            row = f"{'  ×MLServer':<32}"
            for n in sizes:
                mine = f.records_per_s(system, path, batch_concurrency, n)
                theirs = f.records_per_s("mlserver", PEER_PATH[kind], batch_concurrency, n)
                row += f"{_times(ratio(mine, theirs)):>13}"
            add(row)
    add("")
    add(f"{'memory (RSS, MiB) and start-up':<32}{'service':>12}{'MLServer':>12}{'ratio':>8}")
    for label, mine, theirs, digits in (
        ("server RSS after load", f.memory("server"), f.memory("mlserver"), 1),
        ("server RSS idle", f.memory("server_idle"), f.memory("mlserver_idle"), 1),
        ("Envoy RSS after load", f.memory("envoy"), math.nan, 1),
        ("start-to-ready, server (s)", f.start("server"), f.start("mlserver"), 2),
        ("start-to-ready, stack (s)", f.start("stack"), math.nan, 2),
    ):
        add(
            f"{'  ' + label:<32}{_num(mine, digits):>12}{_num(theirs, digits):>12}"
            f"{_times(ratio(mine, theirs)):>8}"
        )
    scaling = [p for p in results["points"] if str(p["system"]).startswith("service-w")]
    if scaling:
        add("")
        add("requests/s against server processes behind Envoy, unpinned, c=32")
        for p in scaling:
            add(
                f"  {p['path']:<20} servers={p['system'].removeprefix('service-w'):<3}"
                f"{_num(_opt(p['requests_per_s'])):>10} req/s"
            )
    add("")
    add("targets")
    for target in results.get("targets", []):
        mark = {True: "met   ", False: "MISSED", None: "n/a   "}[target["met"]]
        op = "≤" if target["at_most"] else "≥"
        measured = _times(_opt(target["ratio"]))
        add(f"  [{mark}] {target['name']}: {measured} ({op} {target['goal']}×; {target['detail']})")
        per_cpu = _opt(target.get("cpu_ratio"))
        if not math.isnan(per_cpu):
            add(f"           per CPU-second of server + Envoy: {_times(per_cpu)}")
    errors = [p for p in results["points"] if p.get("error")]
    for p in errors:
        add(f"  ERROR {p['key']}: {p['error']}")
    busy = [p for p in results["points"] if (p.get("foreign_load") or 0) > FOREIGN_LOAD_WARNING]
    if busy:
        worst = max(busy, key=lambda p: p["foreign_load"])
        add(
            f"  warning: other processes used more than {FOREIGN_LOAD_WARNING:.0%} of the server "
            f"CPU during {len(busy)} of {len(results['points'])} points (worst "
            f"{worst['foreign_load']:.0%}, {worst['key']}): compare those with care"
        )
    for note in results.get("notes", []):
        add(f"  note: {note}")
    return "\n".join(lines)


def _opt(value: Any) -> float:
    return math.nan if value is None else float(value)
