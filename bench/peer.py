"""The peer a user would pick instead: Seldon MLServer with mlserver-sklearn, in its own venv.

`parallel_workers: 0` (inference in the server process) is its fastest setting on one CPU.
uvloop is held below 0.22: with newer uvloop its worker crashes at start and the model
never loads (SeldonIO/MLServer#2286).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import probes
from bench.procs import SERVER_CPUS, Process, free_port, start

PEER_VENV = Path(__file__).resolve().parent / ".peer-venv"
PEER_REQUIREMENTS = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22")
MODEL_NAME = "diabetes-lr"
ALL_FEATURES_MODEL_NAME = "diabetes-lr-all"
REST_INFER = f"/v2/models/{MODEL_NAME}/infer"
REST_INFER_ALL = f"/v2/models/{ALL_FEATURES_MODEL_NAME}/infer"
GRPC_INFER = "/inference.GRPCInferenceService/ModelInfer"


def ensure_venv() -> Path:
    """Create the peer's venv and install MLServer into it, unless already done."""
    stamp = PEER_VENV / ".installed"
    wanted = "\n".join(PEER_REQUIREMENTS)
    if stamp.exists() and stamp.read_text() == wanted:
        return PEER_VENV
    print(f"installing {', '.join(PEER_REQUIREMENTS)} into {PEER_VENV.name}/ ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    pip = [str(PEER_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *PEER_REQUIREMENTS], check=True)
    stamp.write_text(wanted)
    return PEER_VENV


@dataclass(frozen=True)
class PeerFiles:
    server_dir: Path
    bodies_dir: Path
    prediction: float
    # The ten-feature model's prediction for the first ten-feature row (None: no such bodies).
    all_features_prediction: float | None = None

    def rest_body(self, name: str) -> Path:
        return self.bodies_dir / f"peer-rest-{name}.json"

    def grpc_body(self, name: str) -> Path:
        return self.bodies_dir / f"peer-grpc-{name}.bin"

    @property
    def bmi_only_dir(self) -> Path:
        """A server folder with the BMI model alone: start-up trials load what the service
        loads, one model."""
        return self.server_dir.parent / "mlserver-bmi-only"


def prepare(
    work_dir: Path,
    single: float,
    batches: dict[int, list[float]],
    all_features: dict[int, list[list[float]]],
) -> PeerFiles:
    """Train the peer's models and write its request bodies (inside the peer's venv);
    the ten-feature bodies are named `all-N`."""
    server_dir = work_dir / "mlserver"
    bodies_dir = work_dir / "bodies"
    values = work_dir / "peer-values.json"
    values.write_text(
        json.dumps(
            {
                "single": single,
                "batches": {str(n): v for n, v in batches.items()},
                "all_features": {str(n): rows for n, rows in all_features.items()},
            }
        )
    )
    done = subprocess.run(
        [
            str(PEER_VENV / "bin" / "python"),
            str(Path(__file__).resolve().parent / "peer_model.py"),
            str(server_dir / MODEL_NAME),
            str(bodies_dir),
            str(values),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    all_prediction = printed.get("all_features_prediction")
    files = PeerFiles(
        server_dir,
        bodies_dir,
        float(printed["prediction"]),
        None if all_prediction is None else float(all_prediction),
    )
    shutil.rmtree(files.bmi_only_dir, ignore_errors=True)
    shutil.copytree(server_dir / MODEL_NAME, files.bmi_only_dir / MODEL_NAME)
    return files


@dataclass(frozen=True)
class RunningPeer:
    process: Process
    rest_port: int
    grpc_port: int
    ready_seconds: float


def start_peer(
    files: PeerFiles, log_dir: Path, name: str = "mlserver", bmi_only: bool = False
) -> RunningPeer:
    """MLServer with both models (BMI and ten features), or with the BMI one alone."""
    server_dir = files.bmi_only_dir if bmi_only else files.server_dir
    models = (MODEL_NAME,) if bmi_only else (MODEL_NAME, ALL_FEATURES_MODEL_NAME)
    rest_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": rest_port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
        "debug": False,
        "parallel_workers": 0,
    }
    (server_dir / "settings.json").write_text(json.dumps(settings, indent=2))
    process = start(
        name,
        [str(PEER_VENV / "bin" / "mlserver"), "start", str(server_dir)],
        cpus=SERVER_CPUS,
        log_dir=log_dir,
    )
    ready = process.wait_ready(
        lambda: (
            all(probes.http_ok(rest_port, f"/v2/models/{model}/ready") for model in models)
            and probes.tcp_open(grpc_port)
        ),
        timeout=120,
    )
    return RunningPeer(process, rest_port, grpc_port, ready)
