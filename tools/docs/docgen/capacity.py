"""Capacity guidance (docs/runbook.md, "Capacity"): the committed benchmark run's CPU per request
of each face, server and Envoy apart, turned into requests/s per CPU, server pods and Envoy
replicas for a load, and Envoy's memory against the JSON body cap.

Every input is read where it is set: the run (`docs/results/bench.json`, passed in), the
Kubernetes manifests (CPU requests and limits, the HPA's target and bounds, Envoy's replicas
and memory limit) and the Envoy config the deployments render (body cap, heap cap, overload
actions). Sections are `bench:capacity-NAME` (see `figure`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.report import Figures
from tools.docs.docgen import limits
from tools.docs.docgen.tables import table

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S_HPA = DEPLOY / "base" / "server-hpa.yaml"
PRODUCTION_SERVER = DEPLOY / "overlays" / "production" / "server-scale.yaml"
PRODUCTION_ENVOY = DEPLOY / "overlays" / "production" / "envoy-scale.yaml"

TEN_K = 10_000
# (face, benchmark path, records per call); single calls are read at concurrency 32 (the
# saturated point), batches at the run's batch concurrency.
FACES = (
    ("gRPC `Predict` (through Envoy)", "grpc-envoy-predict", 1),
    ("JSON `POST /stream`", "json-stream", 1),
    ("JSON `POST /batch`, 10,000 records", "json-batch", TEN_K),
    ("JSON `POST /batch/columns`, 10,000 records", "json-batch-columns", TEN_K),
    ("V2 REST `/infer`, 10,000 records", "v2-rest-infer", TEN_K),
    ("V2 gRPC `ModelInfer`, 10,000 records", "v2-grpc-infer", TEN_K),
)
EXAMPLE_PATH = "json-stream"
EXAMPLE_LOADS = (1_000, 5_000, 20_000, 100_000)
MIB = 1024 * 1024
# Envoy's reset action sorts accounted streams into this many power-of-two classes (fixed).
RESET_BUCKETS = 8


@dataclass(frozen=True)
class Face:
    name: str
    path: str
    concurrency: int
    records: int
    server_us: float  # server CPU per request
    envoy_us: float  # Envoy CPU per request

    @property
    def per_server_cpu(self) -> float:
        return 1e6 / self.server_us

    @property
    def per_envoy_cpu(self) -> float:
        return 1e6 / self.envoy_us


@dataclass(frozen=True)
class Deployment:
    """What the Kubernetes manifests give each server pod, the HPA and Envoy."""

    server_cpu_request: float
    server_cpu_limit: float
    hpa_target: float  # fraction of the CPU request
    min_pods: int
    max_pods: int
    envoy_cpu_limit: float
    envoy_concurrency: int
    envoy_replicas: int
    envoy_memory_limit: int  # bytes

    @property
    def cpu_per_pod_at_target(self) -> float:
        return self.server_cpu_request * self.hpa_target


def _cpu(text: str | int | float) -> float:
    value = str(text)
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def _bytes(text: str) -> int:
    units = {"Ki": 1024, "Mi": MIB, "Gi": 1024 * MIB}
    found = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(text).strip())
    if not found:
        raise ValueError(f"not a memory quantity: {text!r}")
    return int(found[1]) * units.get(found[2] or "", 1)


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _kind(path: Path, kind: str) -> dict[str, Any]:
    return next(d for d in _documents(path) if d["kind"] == kind)


def deployment() -> Deployment:
    server = _kind(limits.K8S_SERVER, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    hpa = _kind(K8S_HPA, "HorizontalPodAutoscaler")["spec"]
    (cpu_metric,) = [
        m["resource"]
        for m in hpa["metrics"]
        if m["type"] == "Resource" and m["resource"]["name"] == "cpu"
    ]
    production_hpa = _kind(PRODUCTION_SERVER, "HorizontalPodAutoscaler")["spec"]
    envoy = _kind(limits.K8S_ENVOY, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    args = envoy["args"]
    return Deployment(
        server_cpu_request=_cpu(server["resources"]["requests"]["cpu"]),
        server_cpu_limit=_cpu(server["resources"]["limits"]["cpu"]),
        hpa_target=cpu_metric["target"]["averageUtilization"] / 100,
        min_pods=int(production_hpa.get("minReplicas", hpa["minReplicas"])),
        max_pods=int(production_hpa.get("maxReplicas", hpa["maxReplicas"])),
        envoy_cpu_limit=_cpu(envoy["resources"]["limits"]["cpu"]),
        envoy_concurrency=int(args[args.index("--concurrency") + 1]),
        envoy_replicas=int(_kind(PRODUCTION_ENVOY, "Deployment")["spec"]["replicas"]),
        envoy_memory_limit=_bytes(envoy["resources"]["limits"]["memory"]),
    )


def faces(results: Mapping[str, Any]) -> list[Face]:
    f = Figures(results)
    batch_concurrency = int(results["settings"]["batch_concurrency"])
    found = []
    for name, path, records in FACES:
        c = 32 if records == 1 else batch_concurrency
        point = f.point("service", path, c, records)
        if not point.get("server_cpu_us") or not point.get("envoy_cpu_us"):
            raise KeyError(f"the run has no server and Envoy CPU for {path} c={c} n={records}")
        found.append(Face(name, path, c, records, point["server_cpu_us"], point["envoy_cpu_us"]))
    return found


def _face(results: Mapping[str, Any], path: str) -> Face:
    return next(face for face in faces(results) if face.path == path)


def _int(value: float) -> str:
    return f"{value:,.0f}"


def _cpus(value: float) -> str:
    return f"{value:g} CPU"


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / MIB:,.0f} MiB"


def render_per_cpu(results: Mapping[str, Any]) -> str:
    d = deployment()
    rows = []
    for face in faces(results):
        per_pod = face.per_server_cpu * d.cpu_per_pod_at_target
        rows.append(
            [
                face.name,
                f"{face.concurrency}",
                f"{face.server_us:,.0f} µs",
                _int(face.per_server_cpu),
                _int(per_pod),
                f"{face.envoy_us:,.0f} µs",
                _int(face.per_envoy_cpu),
            ]
        )
    return table(
        [
            "Face",
            "Concurrency",
            "Server CPU per request",
            "req/s per server CPU",
            f"req/s per pod at the HPA target ({_cpus(d.cpu_per_pod_at_target)})",
            "Envoy CPU per request",
            "req/s per Envoy CPU",
        ],
        rows,
    )


def pods_at_target(load: float, face: Face, d: Deployment) -> int:
    """Pods the HPA settles on: enough that each uses its target share of its CPU request."""
    needed = math.ceil(load * face.server_us / 1e6 / d.cpu_per_pod_at_target)
    return max(d.min_pods, needed)


def envoy_replicas(load: float, face: Face, d: Deployment) -> int:
    """Envoy replicas (not autoscaled) kept at the same share of their CPU limit."""
    return max(1, math.ceil(load * face.envoy_us / 1e6 / (d.envoy_cpu_limit * d.hpa_target)))


def render_example(results: Mapping[str, Any]) -> str:
    d, face = deployment(), _face(results, EXAMPLE_PATH)
    rows = []
    for load in EXAMPLE_LOADS:
        server_cpus = load * face.server_us / 1e6
        envoy_cpus = load * face.envoy_us / 1e6
        pods = pods_at_target(load, face, d)
        replicas = envoy_replicas(load, face, d)
        rows.append(
            [
                _int(load),
                f"{server_cpus:.2f}",
                f"{pods}" + (f" (above the HPA's {d.max_pods})" if pods > d.max_pods else ""),
                f"{math.ceil(server_cpus / d.server_cpu_limit)}",
                f"{envoy_cpus:.2f}",
                f"{replicas}"
                + (f" (production runs {d.envoy_replicas})" if replicas > d.envoy_replicas else ""),
            ]
        )
    return table(
        [
            f"{face.name} req/s",
            "Server CPUs used",
            f"Server pods the HPA keeps (at least {d.min_pods})",
            f"Pods at their {_cpus(d.server_cpu_limit)} limit (no headroom)",
            "Envoy CPUs used",
            f"Envoy replicas at {d.hpa_target:.0%} of {_cpus(d.envoy_cpu_limit)}",
        ],
        rows,
    )


@dataclass(frozen=True)
class EnvoyMemory:
    body_cap: int
    heap_cap: int
    stop_accepting: float  # fraction of the heap cap
    shed_from: float  # HTTP/1.1 uploads cut, new requests refused (the load shed points)
    shrink_heap: float
    reset_from: float  # scaled trigger: the largest accounted streams are reset from here
    reset_all: float  # every accounted stream is eligible from here
    min_tracked: int  # bytes: streams holding less are never reset
    base_rss: float  # bytes, Envoy after the benchmark run's load
    idle_rss: float

    @property
    def per_body(self) -> int:
        """A JSON body held by the transcoder and the gRPC message made from it, at once."""
        return 2 * self.body_cap

    def reset_level(self, stream_bytes: int) -> float:
        """The heap fraction from which a stream holding `stream_bytes` may be reset: the
        top class at `reset_from`, one class lower per eighth of the trigger's span."""
        bucket = min(RESET_BUCKETS - 1, int(math.log2(stream_bytes / self.min_tracked)))
        step = (self.reset_all - self.reset_from) / RESET_BUCKETS
        return self.reset_from + (RESET_BUCKETS - 1 - bucket) * step

    @property
    def refused_from(self) -> float:
        """The heap fraction from which new requests (any protocol) are refused."""
        return min(self.shed_from, self.stop_accepting)

    def bodies_below(self, fraction: float) -> int:
        return max(0, math.floor((fraction * self.heap_cap - self.base_rss) / self.per_body))


def envoy_memory(results: Mapping[str, Any]) -> EnvoyMemory:
    config = limits.envoy_config()
    manager = limits._public(config)["manager"]
    transcoder = limits._filter(manager, "envoy.filters.http.grpc_json_transcoder")
    overload = config["overload_manager"]
    heap = next(
        m["typed_config"]
        for m in overload["resource_monitors"]
        if m["name"] == "envoy.resource_monitors.fixed_heap"
    )
    triggers = {a["name"].rsplit(".", 1)[-1]: a["triggers"][0] for a in overload["actions"]}
    reset = triggers["reset_high_memory_stream"]["scaled"]
    power = overload["buffer_factory_config"]["minimum_account_to_track_power_of_two"]
    memory = Figures(results)
    return EnvoyMemory(
        body_cap=int(transcoder["max_request_body_size"]),
        heap_cap=int(heap["max_heap_size_bytes"]),
        stop_accepting=triggers["stop_accepting_requests"]["threshold"]["value"],
        shed_from=min(p["triggers"][0]["threshold"]["value"] for p in overload["loadshed_points"]),
        shrink_heap=triggers["shrink_heap"]["threshold"]["value"],
        reset_from=reset["scaling_threshold"],
        reset_all=reset["saturation_threshold"],
        min_tracked=2**power,
        base_rss=memory.memory("envoy") * MIB,
        idle_rss=memory.memory("envoy_idle") * MIB,
    )


def render_memory(results: Mapping[str, Any]) -> str:
    m, d = envoy_memory(results), deployment()
    half = m.body_cap // 2
    at_reset = m.reset_level(half)
    refused = m.bodies_below(m.refused_from)
    reset = m.bodies_below(at_reset)
    rows = [
        ["JSON request body cap (the transcoder's)", _mib(m.body_cap), "c"],
        [
            "Envoy memory per such body in flight: the buffered JSON and the gRPC message "
            "made from it",
            _mib(m.per_body),
            "2 × c",
        ],
        [
            "Envoy RSS after the benchmark run's load (before it)",
            f"{_mib(m.base_rss)} ({_mib(m.idle_rss)})",
            "b",
        ],
        ["Heap cap (overload manager)", _mib(m.heap_cap), "h"],
        [
            f"HTTP/2 streams holding {_mib(half)} (half the cap) or more may be reset from",
            f"{at_reset:.1%} of h = {_mib(at_reset * m.heap_cap)}",
            "r",
        ],
        [
            "HTTP/1.1 uploads cut (503, connection closed) and new requests refused (503) from",
            f"{m.refused_from:.0%} of h = {_mib(m.refused_from * m.heap_cap)}",
            "s",
        ],
        [
            "Full-size JSON bodies in flight at once per replica before HTTP/2 ones are reset",
            f"⌊({_mib(at_reset * m.heap_cap)} − {_mib(m.base_rss)}) / "
            f"{_mib(m.per_body)}⌋ = {reset}",
            "⌊(r − b) / 2c⌋",
        ],
        [
            "... before HTTP/1.1 uploads are cut and new requests refused",
            f"⌊({_mib(m.refused_from * m.heap_cap)} − {_mib(m.base_rss)}) / "
            f"{_mib(m.per_body)}⌋ = {refused}",
            "⌊(s − b) / 2c⌋",
        ],
        [
            f"... across the production overlay's {d.envoy_replicas} Envoy replicas",
            f"{d.envoy_replicas * refused}",
            "",
        ],
        [
            "Envoy container memory limit (Kubernetes)",
            _mib(d.envoy_memory_limit),
            "L",
        ],
        [
            "Room above the heap cap for the binary and non-heap memory",
            f"{_mib(d.envoy_memory_limit - m.heap_cap)} (idle RSS in the run: {_mib(m.idle_rss)})",
            "L − h",
        ],
    ]
    return table(["Quantity", "Value", "Symbol or formula"], rows)


def render_server_memory(results: Mapping[str, Any]) -> str:
    """The server pod's memory limit against its admission budget (`server.bounds.admission`)."""
    from server.bounds import request_bounds as bounds  # the one declaration of the multiples
    from server.config import ServerConfig

    server = _kind(limits.K8S_SERVER, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    limit = _bytes(server["resources"]["limits"]["memory"])
    config = ServerConfig()
    baseline, largest = config.memory_baseline_bytes, config.max_receive_message_bytes
    budget = limit - baseline
    small = bounds.small_calls_reserve(config.max_small_request_bytes)
    bulk_budget = budget - small
    overhead = bounds.CALL_OVERHEAD_BYTES
    receipt = bounds.LARGEST_BULK_MULTIPLE * largest + overhead
    bulk = bounds.bulk_calls_for(bulk_budget, largest, config.traffic_calls)
    batch_multiple = bounds.BULK["diabetes.v1.PredictionService.PredictBatch"][0]
    json_multiple = bounds.BULK["diabetes.v1.JsonPredictionService.PredictJsonRecords"][0]
    json_cap = envoy_memory(results).body_cap
    rows = [
        ["Server container memory limit (Kubernetes)", _mib(limit), "L"],
        ["Idle server left out (`--memory-baseline-bytes`)", _mib(baseline), "B"],
        ["Admission budget: what the calls in flight may reserve", _mib(budget), "L − B"],
        [
            f"Left to small calls ({bounds.RESERVED_SMALL_CALLS} of at most "
            f"{config.max_small_request_bytes // 1024} KiB, {bounds.SMALL_MEMORY_MULTIPLE}× + "
            f"{_mib(bounds.CALL_OVERHEAD_BYTES)} each): bulk calls may reserve the rest",
            _mib(small),
            "S",
        ],
        ["Largest gRPC request message (`--max-receive-message-bytes`)", _mib(largest), "m"],
        [
            "One bulk call at most, in receipt and decoded (grpc holds about 3× a message while "
            "it arrives; the JSON lane and V2 REST decode within 4×)",
            _mib(receipt),
            f"{bounds.LARGEST_BULK_MULTIPLE}m + {_mib(overhead)}",
        ],
        [
            "Bulk calls at once per process (`--max-bulk-calls` 0), counted before receipt",
            f"⌊{_mib(bulk_budget)} / {_mib(receipt)}⌋ = {bulk}",
            f"⌊(L − B − S) / ({bounds.LARGEST_BULK_MULTIPLE}m + {_mib(overhead)})⌋",
        ],
        [
            f"A maximal `PredictBatch` reserves ({batch_multiple}× its body + {_mib(overhead)})",
            _mib(batch_multiple * largest + overhead),
            f"{batch_multiple}m + {_mib(overhead)}",
        ],
        [
            f"A maximal JSON body ({_mib(json_cap)}) reserves",
            _mib(json_multiple * json_cap + overhead),
            f"{json_multiple} × {_mib(json_cap)} + {_mib(overhead)}",
        ],
        [
            "Peak of a pod: the idle server plus at most the budget",
            f"{_mib(baseline)} + {_mib(budget)} = {_mib(limit)}",
            "B + (L − B) = L",
        ],
    ]
    return table(["Quantity", "Value", "Symbol or formula"], rows)


def _inline(results: Mapping[str, Any]) -> dict[str, Callable[[], str]]:
    d = deployment()
    stream = _face(results, EXAMPLE_PATH)
    ceiling = d.max_pods * d.cpu_per_pod_at_target * stream.per_server_cpu
    memory = envoy_memory(results)
    return {
        "bodies-before-refusal": lambda: str(memory.bodies_below(memory.refused_from)),
        "hpa-target": lambda: f"{d.hpa_target:.0%}",
        "server-cpu-request": lambda: _cpus(d.server_cpu_request),
        "server-cpu-limit": lambda: _cpus(d.server_cpu_limit),
        "pod-cpu-at-target": lambda: _cpus(d.cpu_per_pod_at_target),
        "max-pods": lambda: str(d.max_pods),
        "min-pods": lambda: str(d.min_pods),
        "envoy-cpu-limit": lambda: _cpus(d.envoy_cpu_limit),
        "envoy-concurrency": lambda: str(d.envoy_concurrency),
        "envoy-replicas": lambda: str(d.envoy_replicas),
        "stream-ceiling": lambda: _int(ceiling),
        "stream-server-us": lambda: f"{stream.server_us:,.0f} µs",
        "stream-per-server-cpu": lambda: _int(stream.per_server_cpu),
        "stream-c1-cpu": lambda: _c1(results, EXAMPLE_PATH),
    }


def _c1(results: Mapping[str, Any], path: str) -> str:
    point = Figures(results).point("service", path, 1, 1)
    return f"{point['server_cpu_us']:,.0f} µs (server) + {point['envoy_cpu_us']:,.0f} µs (Envoy)"


def figure(name: str, results: Mapping[str, Any]) -> str:
    """`per-cpu`, `example`, `memory`, `server-memory` (tables) or one inline figure (see
    `_inline`)."""
    tables = {
        "per-cpu": render_per_cpu,
        "example": render_example,
        "memory": render_memory,
        "server-memory": render_server_memory,
    }
    if name in tables:
        return tables[name](results)
    inline = _inline(results)
    if name not in inline:
        raise KeyError(f"no capacity figure {name!r} in docgen.capacity")
    return inline[name]()
