"""`diabetes-client`: predict from the command line.

diabetes-client predict --bmi 0.05 --bp 0.02
diabetes-client batch records.csv --output predictions.csv
diabetes-client health
diabetes-client info
diabetes-client --model diabetes-bmi-raw --version canary predict --bmi 31.0
DIABETES_TOKEN=... diabetes-client --target api.example.com:443 --tls predict --bmi 0.05
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import grpc
from tqdm import tqdm

from diabetes_client.batch_io import (
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    Chunk,
    InputFileError,
    ResultWriter,
    input_format_for,
    output_format_for,
    read_chunks,
)
from diabetes_client.channel import SERVICE
from diabetes_client.convert import DEFAULT_MAX_RECORDS_PER_CALL, FEATURES
from diabetes_client.errors import PredictionError
from diabetes_client.security import Tls
from diabetes_client.settings import CONNECTION, add_options, defaults
from diabetes_client.sync import PredictionClient

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _connection_options() -> argparse.ArgumentParser:
    """--target, --timeout, the token and TLS, accepted before or after the command. A new
    parser each time: parents share their actions, so one default set on the main parser
    would otherwise overwrite what was given before the command."""
    common = argparse.ArgumentParser(add_help=False)
    add_options(common, CONNECTION)
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diabetes-client",
        description="Call the diabetes progression prediction service over gRPC.",
        parents=[_connection_options()],
    )
    parser.set_defaults(**defaults(CONNECTION, os.environ))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    predict = commands.add_parser(
        "predict",
        parents=[_connection_options()],
        help="predict one record given as flags; prints JSON",
    )
    for name in FEATURES:
        predict.add_argument(
            f"--{name}", type=float, metavar="VALUE", help=f"{name} in the model's units (`info`)"
        )

    batch = commands.add_parser(
        "batch", parents=[_connection_options()], help="predict a CSV or JSON-lines file of records"
    )
    batch.add_argument(
        "input", help="CSV with a header row of feature names, or JSON lines; - = stdin"
    )
    batch.add_argument("--input-format", choices=INPUT_FORMATS, help="default: from the name")
    batch.add_argument("--output", "-o", help="output file (default stdout)")
    batch.add_argument(
        "--format", choices=OUTPUT_FORMATS, help="output format (default: from --output, else csv)"
    )
    batch.add_argument("--intervals", action="store_true", help="add 95%% prediction intervals")
    batch.add_argument(
        "--max-records-per-call",
        type=int,
        default=DEFAULT_MAX_RECORDS_PER_CALL,
        help="records sent in one call (the server's limit is in `info`)",
    )
    batch.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )

    health = commands.add_parser(
        "health",
        parents=[_connection_options()],
        help="print the server's health; exit 1 unless SERVING",
    )
    health.add_argument("--service", default=SERVICE, help="service to ask about ('' = server)")
    commands.add_parser(
        "info", parents=[_connection_options()], help="describe the served model (JSON)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    max_per_call = getattr(args, "max_records_per_call", DEFAULT_MAX_RECORDS_PER_CALL)
    try:
        with PredictionClient(
            args.target,
            timeout=args.timeout,
            max_records_per_call=max_per_call,
            token=args.token,
            tls=_tls(args),
            model=args.model,
            version=args.version,
        ) as client:
            return int(_COMMANDS[args.command](client, args))
    except PredictionError as exc:
        _error(f"{exc} [server {args.target}]")
        return EXIT_FAILED
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except (InputFileError, ValueError, OSError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _tls(args: argparse.Namespace) -> Tls | None:
    if not (args.tls or args.tls_ca):
        return None
    return Tls(ca_file=args.tls_ca, server_name=args.tls_server_name)


def _predict(client: PredictionClient, args: argparse.Namespace) -> int:
    record = {name: getattr(args, name) for name in FEATURES if getattr(args, name) is not None}
    if not record:
        raise ValueError(f"give at least one feature, e.g. --bmi 0.05 ({', '.join(FEATURES)})")
    _print_json(dataclasses.asdict(client.predict(record)))
    return 0


def _info(client: PredictionClient, args: argparse.Namespace) -> int:
    _print_json(dataclasses.asdict(client.info()))
    return 0


def _health(client: PredictionClient, args: argparse.Namespace) -> int:
    status = client.health(args.service)
    print(status)
    return 0 if status == "SERVING" else EXIT_FAILED


def _batch(client: PredictionClient, args: argparse.Namespace) -> int:
    output_format = args.format or output_format_for(args.output)
    versions: dict[tuple[str, str], int] = {}
    with _open_input(args.input) as source, _open_output(args.output) as sink:
        first_line = source.readline()
        input_format = args.input_format or input_format_for(args.input, first_line)
        lines = itertools.chain([first_line], source)
        writer = ResultWriter(sink, output_format, args.intervals)
        records = 0
        chunk_records = client.max_records_per_call
        with tqdm(
            total=_file_size(args.input),
            unit="B",
            unit_scale=True,
            disable=None if args.progress is None else not args.progress,
            file=sys.stderr,
            desc="predicting",
        ) as bar:
            bar.update(len(first_line) if input_format == "csv" else 0)
            for chunk in _named(args.input, read_chunks(lines, input_format, chunk_records)):
                try:
                    result = client.predict_columns(chunk.columns, include_intervals=args.intervals)
                except PredictionError as exc:
                    raise type(exc)(exc.code, exc.message, records) from None
                versions.setdefault((result.model_name, result.model_version), records)
                writer.write(result)
                records += chunk.count
                bar.update(chunk.size)
        if not records:
            raise InputFileError(f"{_display(args.input)}: no records")
        if len(versions) > 1:
            changes = ", ".join(f"{v!r} from record {i}" for (_, v), i in versions.items())
            raise PredictionError(
                grpc.StatusCode.ABORTED,
                f"the served model changed during the run ({changes}); run the batch again",
            )
        writer.close()
    name, version = next(iter(versions))
    print(f"predicted {records} records with {name} version {version}", file=sys.stderr)
    return 0


def _named(name: str, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """`chunks`, with the file's name in front of the reader's errors."""
    try:
        yield from chunks
    except InputFileError as exc:
        raise InputFileError(f"{_display(name)}: {exc}") from None


def _display(name: str) -> str:
    return "stdin" if name == "-" else name


_COMMANDS = {"predict": _predict, "batch": _batch, "health": _health, "info": _info}


@contextlib.contextmanager
def _open_input(name: str) -> Iterator[TextIO]:
    if name == "-":
        yield sys.stdin
        return
    # utf-8-sig: spreadsheet programs often start a CSV file with a byte-order mark.
    with open(name, encoding="utf-8-sig", newline="") as stream:
        yield stream


@contextlib.contextmanager
def _open_output(name: str | None) -> Iterator[TextIO]:
    """stdout, or a file that appears only once the whole batch succeeded."""
    if name is None or name == "-":
        yield sys.stdout
        return
    path = Path(name)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with open(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, path)
    except BaseException:
        os.unlink(tmp_name)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _file_size(name: str) -> int | None:
    if name == "-":
        return None
    with contextlib.suppress(OSError):
        return os.stat(name).st_size
    return None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _error(message: str) -> None:
    print(f"diabetes-client: error: {message}", file=sys.stderr)
