"""The whole benchmark in one run.

Every system is started once, pinned to the server CPU, and stays up (idle when not
measured) while the points run in rounds, each round visiting every point with the
comparable ones back to back (the no-op ceilings, the service, then MLServer, at the same
size). On a shared machine the load from elsewhere drifts over minutes; interleaving keeps
it from landing on one side of a ratio. Each point keeps its best round's rates and every
round's CPU time per request (the verdicts use their median). Start-up trials come first,
the unpinned scaling over server processes last. Every process it starts, it stops.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import loadgen, noop_replies, payloads, peer, probes
from bench.points import Load, Point, failed_point, measure
from bench.procs import GENERATOR_CPUS, SERVER_CPUS, process_tree, rss_bytes
from bench.service import (
    SERVICE_NAME,
    RunningService,
    start_noop,
    start_noop_stack,
    start_server,
    start_stack,
)
from diabetes.v1 import prediction_pb2 as pb
from model.artifact import load_artifact

REQUEST_CONCURRENCIES = (1, 32)
BATCH_CONCURRENCY = 4
# The sizes the bulk ceilings (the no-op servers with bulk bodies) are measured at.
CEILING_SIZES = (10_000, 100_000)
ALL10 = "-all10"  # the path suffix of the ten-feature points
# Server processes behind the stack's Envoy (`--servers N`).
SCALING_SERVERS = (1, 2)
SCALING_CONCURRENCY = 32
PREDICT = f"/{SERVICE_NAME}/Predict"
PREDICT_BATCH = f"/{SERVICE_NAME}/PredictBatch"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    model: Path
    seconds: float
    warmup: float
    rounds: int
    work_dir: Path
    batch_sizes: tuple[int, ...] = payloads.BATCH_SIZES
    startup_trials: int = 3
    with_peer: bool = True
    with_scaling: bool = True
    # Case paths to measure (prefixes, e.g. "json-", "rest-"); empty: every case.
    only: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Case:
    """One point to measure: a load against a running system."""

    system: str
    path: str
    concurrency: int
    records: int
    load: Load
    server_pids: list[int]
    envoy_pids: list[int] = field(default_factory=list)
    min_response_bytes: float = 0.0


@dataclass(frozen=True)
class Measured:
    """A started system as its points know it: the name they carry and the processes whose
    CPU they count."""

    system: str
    server_pids: list[int]
    envoy_pids: list[int] = field(default_factory=list)

    def case(
        self,
        path: str,
        concurrency: int,
        records: int,
        load: Load,
        *,
        min_response_bytes: float = 0.0,
    ) -> Case:
        """`load` with `concurrency` calls in flight, `records` records in each."""
        return Case(
            system=self.system,
            path=path,
            concurrency=concurrency,
            records=records,
            load=load,
            server_pids=self.server_pids,
            envoy_pids=self.envoy_pids,
            min_response_bytes=min_response_bytes,
        )


# The cases to run against a started system, and the process groups whose memory to report.
Cases = tuple[list[Case], dict[str, list[int]]]


@dataclass(frozen=True)
class System:
    """A system measured side by side: how to start it, and its cases (each verified by one
    real call first)."""

    start: Callable[[], RunningService]
    cases: Callable[[RunningService], Cases]


@dataclass
class Results:
    ceilings: dict[str, Any] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    memory_mib: dict[str, float] = field(default_factory=dict)
    start_to_ready_s: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        print(f"  note: {message}", flush=True)
        self.notes.append(message[:1000])

    def to_json(self) -> dict[str, Any]:
        return {
            "ceilings": self.ceilings,
            "points": [p.to_json() for p in self.points],
            "memory_mib": self.memory_mib,
            "start_to_ready_s": {
                name: {"median": statistics.median(trials), "trials": trials}
                for name, trials in self.start_to_ready_s.items()
                if trials
            },
            "notes": self.notes,
        }


class Bodies:
    """Request bodies on disk, the same values for every system."""

    def __init__(self, directory: Path, sizes: tuple[int, ...], model_name: str = "") -> None:
        write = partial(payloads.write, directory)
        frame = payloads.grpc_frame
        self.predict = write("predict.bin", frame(payloads.predict_request()))
        self.stream = write("stream.json", payloads.json_record())
        self.grpc_records = {
            n: write(f"batch-records-{n}.bin", frame(payloads.batch_records_request(n)))
            for n in sizes
        }
        self.grpc_columns = {
            n: write(f"batch-columns-{n}.bin", frame(payloads.batch_columns_request(n)))
            for n in sizes
        }
        self.json_records = {n: write(f"batch-{n}.json", payloads.json_records(n)) for n in sizes}
        self.json_columns = {
            n: write(f"batch-columns-{n}.json", payloads.json_columns(n)) for n in sizes
        }
        all_n = payloads.ALL_FEATURES_RECORDS
        self.all_n = all_n
        self.json_records_all = write(
            f"batch-all-{all_n}.json", payloads.json_records_all_features(all_n)
        )
        self.json_columns_all = write(
            f"batch-columns-all-{all_n}.json", payloads.json_columns_all_features(all_n)
        )
        self.grpc_records_all = write(
            f"batch-records-all-{all_n}.bin",
            frame(payloads.batch_records_request_all_features(all_n)),
        )
        self.grpc_columns_all = write(
            f"batch-columns-all-{all_n}.bin",
            frame(payloads.batch_columns_request_all_features(all_n)),
        )
        self.v2_rest_all = write(
            f"v2-infer-all-{all_n}.json", payloads.v2_rest_body(all_n, all_features=True)
        )
        self.model_name = model_name
        v2_sizes = [n for n in payloads.V2_SIZES if n in sizes]
        self.v2_rest = {n: write(f"v2-infer-{n}.json", payloads.v2_rest_body(n)) for n in v2_sizes}
        self.v2_grpc = {
            n: write(f"v2-infer-{n}.bin", frame(payloads.v2_grpc_request(n, model_name)))
            for n in v2_sizes
        }
        self.directory = directory

    def v2_grpc_named(self, n: int, model_name: str, all_features: bool = False) -> Path:
        """A V2 gRPC body naming `model_name` (ten-feature rows with `all_features`)."""
        message = payloads.v2_grpc_request(n, model_name, all_features=all_features)
        kind = "all-" if all_features else ""
        name = f"v2-infer-{kind}{n}-{model_name}.bin"
        return payloads.write(self.directory, name, payloads.grpc_frame(message))


def h2load_load(
    port: int, path: str, body: Path, c: int, cpus: str | None = GENERATOR_CPUS
) -> Load:
    url = f"http://127.0.0.1:{port}{path}"
    return lambda seconds: loadgen.h2load(url, body, concurrency=c, seconds=seconds, cpus=cpus)


def wrk_load(port: int, path: str, body: Path, c: int, cpus: str | None = GENERATOR_CPUS) -> Load:
    url = f"http://127.0.0.1:{port}{path}"
    return lambda seconds: loadgen.wrk(url, body, concurrency=c, seconds=seconds, cpus=cpus)


class Bench:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.results = Results()
        self.log_dir = settings.work_dir / "logs"
        self.bodies = Bodies(
            settings.work_dir / "bodies", settings.batch_sizes, load_artifact(settings.model).name
        )
        self.sizes = settings.batch_sizes
        self.expected_prediction: float | None = None
        self.expected_all_prediction: float | None = None
        self.peer_files: peer.PeerFiles | None = None
        self._all_model: Path | None = None

    # -- stages ----------------------------------------------------------------------------

    def ceilings(self) -> None:
        print("ceilings (in process, pinned)", flush=True)
        argv = [sys.executable, "-m", "bench.ceilings", str(self.settings.model)]
        done = subprocess.run(
            ["taskset", "-c", SERVER_CPUS, *argv], capture_output=True, text=True, check=True
        )
        self.results.ceilings = json.loads(done.stdout)
        for name, value in self.results.ceilings["records_per_s"].items():
            print(f"  {name:<30} {value:>16,.0f} records/s", flush=True)

    def prepare_peer(self) -> None:
        peer.ensure_venv()
        batches = {n: payloads.bmi_values(n) for n in self.sizes}
        all_n = payloads.ALL_FEATURES_RECORDS
        all_features = {all_n: payloads.all_features_rows(all_n)}
        self.peer_files = peer.prepare(
            self.settings.work_dir, payloads.SINGLE_BMI, batches, all_features
        )

    def startup(self) -> None:
        print("start-to-ready (each started and stopped alone, pinned)", flush=True)
        model, logs = self.settings.model, self.log_dir
        launchers: dict[str, Callable[[], RunningService]] = {
            "server": lambda: start_server(model, logs, cpus=SERVER_CPUS, name="server-start"),
            "stack": lambda: start_stack(model, logs, cpus=SERVER_CPUS, name="stack-start"),
        }
        files = self.peer_files
        if files is not None:
            launchers["mlserver"] = lambda: _as_service(
                peer.start_peer(files, logs, "mlserver-start", bmi_only=True)
            )
        for name, launch in launchers.items():
            trials = []
            for _ in range(self.settings.startup_trials):
                running = launch()
                running.process.stop()
                trials.append(round(running.ready_seconds, 4))
            self.results.start_to_ready_s[name] = trials
            print(f"  {name}: {', '.join(f'{t:.2f}' for t in trials)} s", flush=True)

    def side_by_side(self) -> None:
        """Start every system, build the cases, run them in interleaved rounds."""
        with contextlib.ExitStack() as running:
            cases: dict[str, list[Case]] = {}
            memory: dict[str, list[int]] = {}
            for name, system in self._systems().items():
                try:
                    started = system.start()
                except Exception as exc:
                    self.results.note(f"{name} did not start: {type(exc).__name__}: {exc}")
                    continue
                running.callback(started.process.stop)
                try:
                    cases[name], pids = system.cases(started)
                except Exception as exc:
                    self.results.note(f"{name} answered wrongly: {type(exc).__name__}: {exc}")
                    continue
                memory.update(pids)
                for label, group in pids.items():
                    self._remember_rss(f"{label}_idle", group)
            ordered = [
                case
                for case in _interleave(cases)
                if not self.settings.only or case.path.startswith(self.settings.only)
            ]
            best: dict[str, Point] = {}
            cpu_rounds: dict[str, list[float]] = {}
            for round_index in range(self.settings.rounds):
                print(f"round {round_index + 1} of {self.settings.rounds}", flush=True)
                for case in ordered:
                    point = self._measure(case)
                    if point.error is None and point.server_cpu_us is not None:
                        cpu = point.server_cpu_us + (point.envoy_cpu_us or 0.0)
                        cpu_rounds.setdefault(point.key, []).append(round(cpu, 3))
                    kept = best.get(point.key)
                    if kept is None or _better(point, kept):
                        best[point.key] = point
            self.results.points.extend(
                dataclasses.replace(p, round_cpu_us=tuple(cpu_rounds.get(key, ())))
                for key, p in best.items()
            )
            for label, group in memory.items():
                self._remember_rss(label, group)

    def scaling(self) -> None:
        """Requests/s against N server processes behind the stack's Envoy (`--servers N`),
        nothing pinned (both CPUs shared). The points keep the `service-wN` system name of
        earlier runs, where N counted worker processes."""
        print("scaling: server processes, unpinned", flush=True)
        model, logs = self.settings.model, self.log_dir
        for servers in SCALING_SERVERS:
            system = f"service-w{servers}"
            stack = start_stack(model, logs, cpus=None, servers=servers, name=f"stack-w{servers}")
            try:
                assert stack.http_port is not None
                predict_bytes = self._verify_predict(stack.http_port)
                on = Measured(system, stack.server_pids(), stack.envoy_pids())
                loads = (
                    (
                        "grpc-predict",
                        h2load_load(stack.http_port, PREDICT, self.bodies.predict, 32, None),
                    ),
                    (
                        "json-stream",
                        wrk_load(stack.http_port, "/stream", self.bodies.stream, 32, None),
                    ),
                )
                for path, load in loads:
                    case = on.case(
                        path,
                        SCALING_CONCURRENCY,
                        1,
                        load,
                        min_response_bytes=predict_bytes if path == "grpc-predict" else 0.0,
                    )
                    self.results.points.append(self._measure(case, pinned=False))
            finally:
                stack.process.stop()

    # -- the systems and their cases -------------------------------------------------------

    def _systems(self) -> dict[str, System]:
        model, logs, cpus = self.settings.model, self.log_dir, SERVER_CPUS
        systems = {
            "noop": System(
                start=lambda: start_noop(logs, cpus=cpus), cases=partial(self._noop_cases, "noop")
            ),
            "noop-aio": System(
                start=lambda: start_noop(logs, cpus=cpus, aio=True),
                cases=partial(self._noop_cases, "noop-aio"),
            ),
            "noop-envoy": System(
                start=lambda: start_noop_stack(logs, cpus=cpus), cases=self._noop_envoy_cases
            ),
            "server": System(
                start=lambda: start_server(model, logs, cpus=cpus), cases=self._server_cases
            ),
            "server-all": System(
                start=lambda: start_server(
                    self._all_features_model(), logs, cpus=cpus, name="server-all"
                ),
                cases=self._all_features_server_cases,
            ),
            "stack": System(
                start=lambda: start_stack(model, logs, cpus=cpus), cases=self._stack_cases
            ),
            "stack-all": System(
                start=lambda: start_stack(
                    self._all_features_model(), logs, cpus=cpus, name="stack-all"
                ),
                cases=self._all_features_cases,
            ),
        }
        files = self.peer_files
        if files is not None:
            systems["mlserver"] = System(
                start=lambda: _as_service(peer.start_peer(files, logs)), cases=self._peer_cases
            )
        return systems

    def _noop_cases(self, name: str, system: RunningService) -> Cases:
        pids = process_tree(system.process.pid)
        port = system.grpc_port
        on = Measured(name, pids)
        cases = [
            on.case("grpc-predict", c, 1, h2load_load(port, PREDICT, self.bodies.predict, c))
            for c in REQUEST_CONCURRENCIES
        ]
        if name == "noop":
            cases += self._noop_bulk_cases(system, pids)
        return cases, {name: pids}

    def _noop_bulk_cases(self, system: RunningService, pids: list[int]) -> list[Case]:
        """The protobuf bulk bodies against the no-op grpcio server: their transport ceiling."""
        port, on = system.grpc_port, Measured("noop", pids)
        bodies = [
            (f"grpc-batch-{form}", n, body)
            for form, by_size in (
                ("records", self.bodies.grpc_records),
                ("columns", self.bodies.grpc_columns),
            )
            for n, body in by_size.items()
            if n in CEILING_SIZES
        ]
        all_n = self.bodies.all_n
        bodies += [
            (f"grpc-batch-records{ALL10}", all_n, self.bodies.grpc_records_all),
            (f"grpc-batch-columns{ALL10}", all_n, self.bodies.grpc_columns_all),
        ]
        return [
            on.case(
                path,
                BATCH_CONCURRENCY,
                n,
                h2load_load(port, PREDICT_BATCH, body, BATCH_CONCURRENCY),
                min_response_bytes=self._noop_batch_bytes(port, body, n),
            )
            for path, n, body in bodies
        ]

    def _noop_envoy_cases(self, system: RunningService) -> Cases:
        assert system.http_port is not None
        http, servers, envoys = system.http_port, system.server_pids(), system.envoy_pids()
        status, reply = probes.http_request(
            http, "POST", "/stream", self.bodies.stream.read_bytes()
        )
        if status != 200:
            raise AssertionError(f"POST /stream answered {status}: {reply[:200]!r}")
        on = Measured("noop-envoy", servers, envoys)
        cases = [
            on.case("json-stream", c, 1, wrk_load(http, "/stream", self.bodies.stream, c))
            for c in REQUEST_CONCURRENCIES
        ]
        return cases + self._noop_envoy_bulk_cases(system), {}

    def _noop_envoy_bulk_cases(self, system: RunningService) -> list[Case]:
        """The JSON and V2 bulk bodies against the no-op behind Envoy: their transport
        ceiling (Envoy routing the bytes, grpcio moving them, a reply of the service's size)."""
        assert system.http_port is not None
        http, servers, envoys = system.http_port, system.server_pids(), system.envoy_pids()
        on = Measured("noop-envoy", servers, envoys)
        rest_route = f"/v2/models/{self.bodies.model_name}/infer"
        http_bodies = [
            (path, route, n, body)
            for path, route, by_size in (
                ("json-batch", "/batch", self.bodies.json_records),
                ("json-batch-columns", "/batch/columns", self.bodies.json_columns),
                ("v2-rest-infer", rest_route, self.bodies.v2_rest),
            )
            for n, body in by_size.items()
            if n in CEILING_SIZES
        ]
        all_n = self.bodies.all_n
        http_bodies += [
            (f"json-batch{ALL10}", "/batch", all_n, self.bodies.json_records_all),
            (f"json-batch-columns{ALL10}", "/batch/columns", all_n, self.bodies.json_columns_all),
            (f"v2-rest-infer{ALL10}", rest_route, all_n, self.bodies.v2_rest_all),
        ]
        cases = []
        for path, route, n, body in http_bodies:
            status, reply = probes.http_request(http, "POST", route, body.read_bytes())
            if status != 200 or len(reply) < n:
                raise AssertionError(f"no-op POST {route} ({n}) answered {status}: {reply[:200]!r}")
            cases.append(
                on.case(path, BATCH_CONCURRENCY, n, wrk_load(http, route, body, BATCH_CONCURRENCY))
            )
        named = self.bodies.v2_grpc_named
        grpc_bodies = [
            (n, named(n, noop_replies.MODEL_NAME), "v2-grpc-infer")
            for n in self.bodies.v2_grpc
            if n in CEILING_SIZES
        ]
        grpc_bodies.append(
            (all_n, named(all_n, noop_replies.MODEL_NAME_ALL, True), f"v2-grpc-infer{ALL10}")
        )
        for n, body, path in grpc_bodies:
            cases.append(
                on.case(
                    path,
                    BATCH_CONCURRENCY,
                    n,
                    h2load_load(http, peer.GRPC_INFER, body, BATCH_CONCURRENCY),
                    min_response_bytes=self._peer_grpc_bytes(http, body),
                )
            )
        return cases

    def _server_cases(self, system: RunningService) -> Cases:
        pids, port = system.server_pids(), system.grpc_port
        on = Measured("service", pids)
        predict_bytes = self._verify_predict(port)
        cases = [
            on.case(
                "grpc-predict",
                c,
                1,
                h2load_load(port, PREDICT, self.bodies.predict, c),
                min_response_bytes=predict_bytes,
            )
            for c in REQUEST_CONCURRENCIES
        ]
        for form, bodies in (
            ("records", self.bodies.grpc_records),
            ("columns", self.bodies.grpc_columns),
        ):
            for n, body in bodies.items():
                cases.append(
                    on.case(
                        f"grpc-batch-{form}",
                        BATCH_CONCURRENCY,
                        n,
                        h2load_load(port, PREDICT_BATCH, body, BATCH_CONCURRENCY),
                        min_response_bytes=self._verify_batch(port, body, n),
                    )
                )
        return cases, {"server": pids}

    def _stack_cases(self, system: RunningService) -> Cases:
        assert system.http_port is not None
        http = system.http_port
        servers, envoys = system.server_pids(), system.envoy_pids()
        if not envoys:
            self.results.note("no Envoy process found under the stack command")
        on = Measured("service", servers, envoys)
        predict_bytes = self._verify_predict(http)
        self._verify_json_stream(http)
        cases = []
        for c in REQUEST_CONCURRENCIES:
            cases.append(
                on.case(
                    "grpc-envoy-predict",
                    c,
                    1,
                    h2load_load(http, PREDICT, self.bodies.predict, c),
                    min_response_bytes=predict_bytes,
                )
            )
            cases.append(
                on.case("json-stream", c, 1, wrk_load(http, "/stream", self.bodies.stream, c))
            )
        for path, route, bodies in (
            ("json-batch", "/batch", self.bodies.json_records),
            ("json-batch-columns", "/batch/columns", self.bodies.json_columns),
        ):
            for n, body in bodies.items():
                problem = self._verify_json_batch(http, route, body, n)
                if problem:
                    self.results.note(problem)
                    self.results.points.append(
                        failed_point("service", path, BATCH_CONCURRENCY, n, problem)
                    )
                    continue
                cases.append(
                    on.case(
                        path, BATCH_CONCURRENCY, n, wrk_load(http, route, body, BATCH_CONCURRENCY)
                    )
                )
        cases += self._v2_cases(http, servers, envoys)
        return cases, {"stack_server": servers, "envoy": envoys}

    def _all_features_model(self) -> Path:
        """A model of all ten features, trained once for this run (the bundled one reads BMI)."""
        if self._all_model is None:
            out = self.settings.work_dir / "model-all"
            artifact = out / "diabetes-all.json"
            argv = [sys.executable, "-m", "model.train", "--features", "all"]
            argv += ["--output-dir", str(out), "--artifact", str(artifact)]
            subprocess.run(argv, check=True, capture_output=True)
            self._all_model = artifact
        return self._all_model

    def _all_features_server_cases(self, system: RunningService) -> Cases:
        """The ten-feature protobuf bodies, direct to a server of the ten-feature model."""
        pids, port, n = system.server_pids(), system.grpc_port, self.bodies.all_n
        on = Measured("service", pids)
        cases = [
            on.case(
                f"grpc-batch-{form}{ALL10}",
                BATCH_CONCURRENCY,
                n,
                h2load_load(port, PREDICT_BATCH, body, BATCH_CONCURRENCY),
                min_response_bytes=self._verify_batch(port, body, n),
            )
            for form, body in (
                ("records", self.bodies.grpc_records_all),
                ("columns", self.bodies.grpc_columns_all),
            )
        ]
        return cases, {}

    def _all_features_cases(self, system: RunningService) -> Cases:
        """The ten-feature JSON and V2 bodies through Envoy (the MLServer side serves the
        same ten-feature LinearRegression)."""
        assert system.http_port is not None
        http, n = system.http_port, self.bodies.all_n
        servers, envoys = system.server_pids(), system.envoy_pids()
        on = Measured("service", servers, envoys)
        name = load_artifact(self._all_features_model()).name
        rest_route = f"/v2/models/{name}/infer"
        cases = []
        for path, route, body in (
            ("json-batch", "/batch", self.bodies.json_records_all),
            ("json-batch-columns", "/batch/columns", self.bodies.json_columns_all),
            ("v2-rest-infer", rest_route, self.bodies.v2_rest_all),
        ):
            status, reply = probes.http_request(http, "POST", route, body.read_bytes())
            if status != 200:
                raise AssertionError(
                    f"POST {route} ({n}, ten features) answered {status}: {reply[:200]!r}"
                )
            if route == "/batch":
                self._remember_all_prediction(float(json.loads(reply)["predictions"][0]))
            cases.append(
                on.case(
                    path + ALL10,
                    BATCH_CONCURRENCY,
                    n,
                    wrk_load(http, route, body, BATCH_CONCURRENCY),
                )
            )
        grpc_body = self.bodies.v2_grpc_named(n, name, all_features=True)
        cases.append(
            on.case(
                f"v2-grpc-infer{ALL10}",
                BATCH_CONCURRENCY,
                n,
                h2load_load(http, peer.GRPC_INFER, grpc_body, BATCH_CONCURRENCY),
                min_response_bytes=self._peer_grpc_bytes(http, grpc_body),
            )
        )
        return cases, {}

    def _v2_cases(self, http: int, servers: list[int], envoys: list[int]) -> list[Case]:
        """The Open Inference Protocol through Envoy, beside MLServer's own V2 routes."""
        on = Measured("service", servers, envoys)
        cases = []
        route = f"/v2/models/{self.bodies.model_name}/infer"
        for n, body in self.bodies.v2_rest.items():
            status, reply = probes.http_request(http, "POST", route, body.read_bytes())
            if status != 200 or len(json.loads(reply)["outputs"][0]["data"]) != n:
                problem = f"V2 REST answered {status} for {n} records: {reply[:200]!r}"
                self.results.note(problem)
                self.results.points.append(
                    failed_point("service", "v2-rest-infer", BATCH_CONCURRENCY, n, problem)
                )
                continue
            cases.append(
                on.case(
                    "v2-rest-infer",
                    BATCH_CONCURRENCY,
                    n,
                    wrk_load(http, route, body, BATCH_CONCURRENCY),
                )
            )
        for n, body in self.bodies.v2_grpc.items():
            cases.append(
                on.case(
                    "v2-grpc-infer",
                    BATCH_CONCURRENCY,
                    n,
                    h2load_load(http, peer.GRPC_INFER, body, BATCH_CONCURRENCY),
                    min_response_bytes=self._peer_grpc_bytes(http, body),
                )
            )
        return cases

    def _peer_cases(self, system: RunningService) -> Cases:
        files = self.peer_files
        assert files is not None
        assert system.http_port is not None
        rest, grpc_port = system.http_port, system.grpc_port
        pids = process_tree(system.process.pid)
        on = Measured("mlserver", pids)
        status, reply = probes.http_request(
            rest, "POST", peer.REST_INFER, files.rest_body("single").read_bytes()
        )
        if status != 200:
            raise AssertionError(f"MLServer REST answered {status}: {reply[:200]!r}")
        self._compare_models(float(json.loads(reply)["outputs"][0]["data"][0]))
        cases = []
        for c in REQUEST_CONCURRENCIES:
            cases.append(
                on.case(
                    "grpc-infer",
                    c,
                    1,
                    h2load_load(grpc_port, peer.GRPC_INFER, files.grpc_body("single"), c),
                    min_response_bytes=self._peer_grpc_bytes(grpc_port, files.grpc_body("single")),
                )
            )
            cases.append(
                on.case(
                    "rest-infer",
                    c,
                    1,
                    wrk_load(rest, peer.REST_INFER, files.rest_body("single"), c),
                )
            )
        for n in self.sizes:
            body = files.grpc_body(str(n))
            cases.append(
                on.case(
                    "grpc-infer",
                    BATCH_CONCURRENCY,
                    n,
                    h2load_load(grpc_port, peer.GRPC_INFER, body, BATCH_CONCURRENCY),
                    min_response_bytes=self._peer_grpc_bytes(grpc_port, body),
                )
            )
            rest_body = files.rest_body(str(n))
            status, reply = probes.http_request(
                rest, "POST", peer.REST_INFER, rest_body.read_bytes()
            )
            if status != 200:
                self.results.note(f"MLServer REST answered {status} for {n} records")
                continue
            cases.append(
                on.case(
                    "rest-infer",
                    BATCH_CONCURRENCY,
                    n,
                    wrk_load(rest, peer.REST_INFER, rest_body, BATCH_CONCURRENCY),
                )
            )
        cases += self._peer_all_features_cases(system, pids)
        return cases, {"mlserver": pids}

    def _peer_all_features_cases(self, system: RunningService, pids: list[int]) -> list[Case]:
        """MLServer's ten-feature model, with the same ten-feature values as the service."""
        files = self.peer_files
        assert files is not None
        assert system.http_port is not None
        name, n = f"all-{self.bodies.all_n}", self.bodies.all_n
        on = Measured("mlserver", pids)
        rest_body, grpc_body = files.rest_body(name), files.grpc_body(name)
        status, reply = probes.http_request(
            system.http_port, "POST", peer.REST_INFER_ALL, rest_body.read_bytes()
        )
        if status != 200:
            self.results.note(f"MLServer's ten-feature model answered {status}: {reply[:200]!r}")
            return []
        return [
            on.case(
                f"grpc-infer{ALL10}",
                BATCH_CONCURRENCY,
                n,
                h2load_load(system.grpc_port, peer.GRPC_INFER, grpc_body, BATCH_CONCURRENCY),
                min_response_bytes=self._peer_grpc_bytes(system.grpc_port, grpc_body),
            ),
            on.case(
                f"rest-infer{ALL10}",
                BATCH_CONCURRENCY,
                n,
                wrk_load(system.http_port, peer.REST_INFER_ALL, rest_body, BATCH_CONCURRENCY),
            ),
        ]

    # -- measuring and checking ------------------------------------------------------------

    def _measure(self, case: Case, pinned: bool = True) -> Point:
        return measure(
            case.system,
            case.path,
            concurrency=case.concurrency,
            records=case.records,
            load=case.load,
            seconds=self.settings.seconds,
            warmup=self.settings.warmup,
            server_pids=case.server_pids,
            envoy_pids=case.envoy_pids,
            min_response_bytes=case.min_response_bytes,
            pinned=pinned,
        )

    def _remember_rss(self, name: str, pids: list[int]) -> None:
        self.results.memory_mib[name] = round(rss_bytes(pids) / MIB, 1)

    def _verify_predict(self, port: int) -> float:
        """One Predict call; returns the framed reply size every loaded call must match."""
        reply = probes.grpc_call(port, PREDICT, self.bodies.predict.read_bytes()[5:])
        prediction = pb.PredictResponse.FromString(reply).prediction
        if self.expected_prediction is None:
            self.expected_prediction = prediction
        elif abs(prediction - self.expected_prediction) > 1e-9:
            raise AssertionError(
                f"Predict answered {prediction}, expected {self.expected_prediction}"
            )
        return len(reply) + 5

    def _verify_batch(self, port: int, body: Path, n: int) -> float:
        chunks = probes.grpc_stream_call(port, PREDICT_BATCH, body.read_bytes()[5:])
        count = sum(len(pb.PredictBatchResponse.FromString(c).predictions) for c in chunks)
        if count != n:
            raise AssertionError(f"PredictBatch answered {count} predictions for {n} records")
        return sum(len(c) + 5 for c in chunks)

    def _verify_json_stream(self, port: int) -> None:
        status, body = probes.http_request(port, "POST", "/stream", self.bodies.stream.read_bytes())
        if status != 200:
            raise AssertionError(f"POST /stream answered {status}: {body[:300]!r}")
        prediction = float(json.loads(body)["prediction"])
        expected = self.expected_prediction
        if expected is not None and abs(prediction - expected) > 1e-9:
            raise AssertionError(f"/stream answered {prediction}, expected {expected}")

    def _verify_json_batch(self, port: int, route: str, body: Path, n: int) -> str | None:
        status, reply = probes.http_request(port, "POST", route, body.read_bytes())
        if status != 200:
            return f"POST {route} with {n} records answered {status}: {reply[:200]!r}"
        count = len(json.loads(reply)["predictions"])
        if count != n:
            return f"POST {route} answered {count} predictions for {n} records"
        return None

    def _noop_batch_bytes(self, port: int, body: Path, n: int) -> float:
        chunks = probes.grpc_stream_call(port, PREDICT_BATCH, body.read_bytes()[5:])
        count = sum(len(pb.PredictBatchResponse.FromString(c).predictions) for c in chunks)
        if count != n:
            raise AssertionError(f"the no-op answered {count} predictions for {n} records")
        return sum(len(c) + 5 for c in chunks)

    def _remember_all_prediction(self, prediction: float) -> None:
        """The service's ten-feature prediction for the first row, against MLServer's."""
        self.expected_all_prediction = prediction
        files = self.peer_files
        theirs = None if files is None else files.all_features_prediction
        if theirs is not None and abs(theirs - prediction) > 1e-3 * abs(prediction):
            self.results.note(
                f"MLServer's ten-feature model predicts {theirs} where the service's predicts "
                f"{prediction} for the same record: the models differ (the service's is trained "
                "by gradient descent); the cost per call is still like for like"
            )

    def _peer_grpc_bytes(self, port: int, body: Path) -> float:
        return len(probes.grpc_call(port, peer.GRPC_INFER, body.read_bytes()[5:])) + 5

    def _compare_models(self, peer_prediction: float) -> None:
        expected = self.expected_prediction
        if expected is not None and abs(peer_prediction - expected) > 1e-6 * abs(expected):
            self.results.note(
                f"MLServer's model predicts {peer_prediction} where the service predicts "
                f"{expected}: not the same model"
            )


def _as_service(running: peer.RunningPeer) -> RunningService:
    return RunningService(
        running.process, running.grpc_port, running.rest_port, running.ready_seconds
    )


def _interleave(cases: dict[str, list[Case]]) -> list[Case]:
    """All cases, comparable ones adjacent: by records per request, then concurrency."""
    order = {name: index for index, name in enumerate(cases)}
    everything = [case for group in cases.values() for case in group]
    return sorted(
        everything, key=lambda c: (c.records, c.concurrency, order.get(_group(c), len(order)))
    )


def _group(case: Case) -> str:
    if case.system == "service":
        through_envoy = case.path.startswith(("json", "grpc-envoy", "v2-"))
        return "stack" if through_envoy else "server"
    return case.system


def _better(point: Point, kept: Point) -> bool:
    """The round to keep: a clean one over a failed one, then the higher throughput."""
    if (point.error is None) != (kept.error is None):
        return point.error is None
    return point.requests_per_s > kept.requests_per_s


@contextlib.contextmanager
def _stage(results: Results, name: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # one broken stage must not lose the others' figures
        results.note(f"stage {name} failed: {type(exc).__name__}: {exc}")


def run(settings: Settings) -> dict[str, Any]:
    bench = Bench(settings)
    started = time.perf_counter()
    with _stage(bench.results, "ceilings"):
        bench.ceilings()
    if settings.with_peer:
        with _stage(bench.results, "peer set-up"):
            bench.prepare_peer()
    with _stage(bench.results, "start-up"):
        bench.startup()
    with _stage(bench.results, "side by side"):
        bench.side_by_side()
    if settings.with_scaling:
        with _stage(bench.results, "scaling"):
            bench.scaling()
    results = bench.results.to_json()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    return results
