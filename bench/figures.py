"""Look-ups into a results document (as `make bench` writes it to JSON), and the ratios
the table and the targets are made of. A figure the run lacks is NaN, never a guess."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

from bench.points import point_key

TEN_K = 10_000
ALL10 = "-all10"  # the path suffix of the ten-feature points
# The system whose same path is each bulk face's transport ceiling: the no-op grpcio server
# for the protobuf bodies sent direct, the no-op behind Envoy for everything through Envoy.
CEILING_SYSTEM = {
    "grpc-batch-records": "noop",
    "grpc-batch-columns": "noop",
    "json-batch": "noop-envoy",
    "json-batch-columns": "noop-envoy",
    "v2-rest-infer": "noop-envoy",
    "v2-grpc-infer": "noop-envoy",
}
# MLServer's path each face compares with: gRPC with gRPC, JSON with REST.
PEER_PATH = {
    "grpc-batch-records": "grpc-infer",
    "grpc-batch-columns": "grpc-infer",
    "json-batch": "rest-infer",
    "json-batch-columns": "rest-infer",
    "v2-rest-infer": "rest-infer",
    "v2-grpc-infer": "grpc-infer",
}


def face_of(path: str) -> str:
    """The face a path measures: `json-batch-all10` -> `json-batch`."""
    return path.removesuffix(ALL10)


def peer_path(path: str) -> str:
    """MLServer's like-for-like path: the same number of features, gRPC or REST."""
    suffix = ALL10 if path.endswith(ALL10) else ""
    return PEER_PATH[face_of(path)] + suffix


class Figures:
    """Look-ups into a results document (as written to JSON)."""

    def __init__(self, results: Mapping[str, Any]) -> None:
        self.results = results
        self.points: dict[str, Mapping[str, Any]] = {p["key"]: p for p in results.get("points", [])}

    def point(self, system: str, path: str, concurrency: int, records: int) -> Mapping[str, Any]:
        found = self.points.get(point_key(system, path, concurrency, records))
        if found is None or found.get("error"):
            return {}
        return found

    def value(self, system: str, path: str, c: int, n: int, name: str) -> float:
        return opt(self.point(system, path, c, n).get(name))

    def rps(self, system: str, path: str, c: int, n: int = 1) -> float:
        return self.value(system, path, c, n, "requests_per_s")

    def records_per_s(self, system: str, path: str, c: int, n: int) -> float:
        return self.value(system, path, c, n, "records_per_s")

    def p99(self, system: str, path: str, c: int) -> float:
        return self.value(system, path, c, 1, "p99_ms")

    def cpu_us(self, system: str, path: str, c: int, n: int = 1) -> float:
        """CPU time of the serving processes (server and Envoy) per request: the median over
        the run's rounds where the run kept them, else the kept round's."""
        point = self.point(system, path, c, n)
        rounds = point.get("round_cpu_us") or ()
        if rounds:
            return float(statistics.median(rounds))
        return opt(point.get("server_cpu_us")) + opt(point.get("envoy_cpu_us") or 0.0)

    def cpu_ns_per_record(self, system: str, path: str, c: int, n: int) -> float:
        return self.cpu_us(system, path, c, n) * 1000 / n

    def memory(self, name: str) -> float:
        return float(self.results.get("memory_mib", {}).get(name, math.nan))

    def start(self, name: str) -> float:
        entry = self.results.get("start_to_ready_s", {}).get(name)
        return float(entry["median"]) if entry else math.nan

    def ceiling(self, name: str) -> float:
        return float(self.results.get("ceilings", {}).get("records_per_s", {}).get(name, math.nan))

    def floor(self, path: str, n: int) -> Mapping[str, float]:
        """A face's in-process floor at n records ({} when the run has none)."""
        found: Mapping[str, float] = (
            self.results.get("ceilings", {}).get("floors", {}).get(path, {}).get(str(n), {})
        )
        return found

    # -- a bulk face against MLServer and against its transport ceiling -------------------

    def versus_peer(self, path: str, c: int, n: int) -> float:
        return ratio(
            self.records_per_s("service", path, c, n),
            self.records_per_s("mlserver", peer_path(path), c, n),
        )

    def versus_peer_cpu(self, path: str, c: int, n: int) -> float:
        """Records per CPU-second of server + Envoy against MLServer's."""
        return ratio(
            self.cpu_us("mlserver", peer_path(path), c, n), self.cpu_us("service", path, c, n)
        )

    def transport_ceiling(self, path: str, c: int, n: int) -> float:
        return self.records_per_s(CEILING_SYSTEM[face_of(path)], path, c, n)

    def versus_ceiling(self, path: str, c: int, n: int) -> float:
        return ratio(self.records_per_s("service", path, c, n), self.transport_ceiling(path, c, n))

    def versus_ceiling_cpu(self, path: str, c: int, n: int) -> float:
        ceiling = CEILING_SYSTEM[face_of(path)]
        return ratio(self.cpu_us(ceiling, path, c, n), self.cpu_us("service", path, c, n))


def ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return math.nan
    return numerator / denominator


def opt(value: Any) -> float:
    return math.nan if value is None else float(value)
