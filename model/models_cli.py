"""`diabetes-models`: roll models out and back by changing data, not code.

    diabetes-models list     --repository DIR
    diabetes-models add      --repository DIR ARTIFACT.json   (a new version; stable if first)
    diabetes-models canary   --repository DIR MODEL VERSION [--percent P]
                             [--guard EXPR ...] [--window 5m] [--min-compared N]
    diabetes-models shadow   --repository DIR MODEL VERSION | MODEL --clear
    diabetes-models report   MODEL --server URL [--server URL ...] [--json]
    diabetes-models promote  --repository DIR MODEL [VERSION]  (default: the canary)
                             [--server URL ...] [--force]
    diabetes-models rollback --repository DIR MODEL

Every change is checked before anything is written, then writes one file atomically (a
new version's artifact, or a model's `labels.json`: a temporary file, then a rename), so a
server watching the repository (`--watch-model true`) or told to reload (SIGHUP) sees the old
state or the new one, never half of either. MODEL and VERSION arguments, and an added
artifact's `name` and `version`, must be valid names (`model.names`); an artifact is
validated before it is copied, only ever to a path inside the repository; new labels must
name versions whose files load.

Exit codes: 0 done (files of the repository a server would refuse are named on stderr as
warnings); 1 refused, with the reason on stderr and nothing written (`list`: the repository
cannot be served, or some of its files are refused, each named on stderr); 2 a usage error
(argparse).
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from command_settings import Setting, SettingsParser, env_var_for
from model.artifact import ArtifactError, LinearModel, load_artifact
from model.guards import (
    DEFAULT_MIN_COMPARED,
    DEFAULT_WINDOW_SECONDS,
    Guard,
    GuardError,
    parse_expression,
    parse_window,
)
from model.names import InvalidNameError, check_name
from model.repository import (
    DEFAULT_MODEL,
    MANIFEST,
    RESERVED_VERSIONS,
    Labels,
    Repository,
    RepositoryError,
    describe,
    describe_refused,
    load_repository,
    read_labels,
    version_files,
    write_labels,
)
from model.shadow_report import ReportError, render, report

REPOSITORY = Setting(
    "--repository",
    "the model repository directory",
    default=None,
    type=Path,
    # The variable the server reads for the same directory (its `--model-repository`).
    env=env_var_for("--model-repository"),
    required=True,
)


def build_parser(environ: Mapping[str, str] | None = None) -> SettingsParser:
    parser = SettingsParser(
        prog="diabetes-models",
        description="List the models of a model repository, add versions, and move the "
        "stable and canary labels (promote, roll back). Each change is one atomic file write.",
        environ=environ,
        formatter_class=argparse.HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> SettingsParser:
        sub = parser.add_subcommand(commands, name, help=help, description=help)
        sub.add_setting(REPOSITORY)
        return sub

    command("list", "print every model, its versions and labels (JSON)")
    add = command("add", "copy a trained artifact into the repository as a new version")
    add.add_argument("artifact", type=Path, help="the artifact (diabetes-train --output)")
    canary = command("canary", "label a version canary, answering a share of default calls")
    canary.add_argument("model")
    canary.add_argument("version")
    canary.add_argument(
        "--percent",
        type=_percent,
        default=0.0,
        help="per cent of calls without a version that the canary answers",
    )
    canary.add_argument(
        "--guard",
        action="append",
        default=[],
        metavar="EXPR",
        help="FIGURE<LIMIT or FIGURE<=LIMIT over the window (repeatable); figures: "
        "beyond_interval_share, mean_abs_diff, max_abs_diff",
    )
    canary.add_argument(
        "--window",
        default=f"{DEFAULT_WINDOW_SECONDS:g}s",
        help="the guards' window: N s, N m or N h (default 5m)",
    )
    canary.add_argument(
        "--min-compared",
        type=int,
        default=DEFAULT_MIN_COMPARED,
        help="records a server must have compared in the window before a guard may fire",
    )
    shadow = command("shadow", "label a version shadow: evaluated beside stable, never answering")
    shadow.add_argument("model")
    shadow.add_argument("version", nargs="?", default="")
    shadow.add_argument("--clear", action="store_true", help="remove the shadow label")
    report_command = parser.add_subcommand(
        commands,
        "report",
        help="print a model's shadow and canary comparisons, read from the servers' metrics",
        description="print a model's shadow and canary comparisons, read from the servers' "
        "metrics endpoints and added up",
    )
    report_command.add_argument("model")
    _server_option(report_command, required=True)
    report_command.add_argument("--json", action="store_true", help="print JSON")
    promote = command("promote", "make a version (the canary by default) stable")
    promote.add_argument("model")
    promote.add_argument("version", nargs="?", default="", help="default: the canary")
    _server_option(promote, required=False)
    promote.add_argument(
        "--force", action="store_true", help="promote even a version whose guard fired"
    )
    rollback = command("rollback", "make the previous stable version stable again")
    rollback.add_argument("model")
    return parser


def _server_option(command: argparse.ArgumentParser, required: bool) -> None:
    command.add_argument(
        "--server",
        action="append",
        default=[],
        required=required,
        metavar="URL",
        help="a server's metrics endpoint, e.g. http://127.0.0.1:9100 (repeat for each server)",
    )


def _percent(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be from 0 to 100, got {text}")
    return value


def add_version(repository: Path, artifact: Path) -> Path:
    """Copy a valid artifact to `<repository>/<name>/<version>.json`; the first version of a
    model becomes its stable one. Returns the new file. Everything is checked (the
    artifact, its name and version, the target inside the repository) before anything is
    written."""
    model = load_artifact(artifact)
    name = check_name(model.name, "the artifact's name")
    version = _version_name(model.version, "the artifact's version")
    root = repository.resolve()
    if (root / f"{name}.json").exists():
        raise RepositoryError(
            f"{root / name}.json serves {name!r} as a single file; "
            f"move it to {name}/<its version>.json with a {MANIFEST} first"
        )
    directory = _inside(root, root / name)
    target = _inside(root, directory / f"{version}.json")
    if target.exists():
        raise RepositoryError(f"{target} exists: version {version!r} is already there")
    directory.mkdir(parents=True, exist_ok=True)
    with (
        artifact.open("rb") as source,
        tempfile.NamedTemporaryFile(dir=directory, prefix=f".{target.name}.", delete=False) as tmp,
    ):
        shutil.copyfileobj(source, tmp)
    Path(tmp.name).chmod(0o644)
    Path(tmp.name).replace(target)
    manifest = directory / MANIFEST
    if not manifest.exists():
        write_labels(manifest, Labels(version))
    return target


def move_labels(
    repository: Path,
    model: str,
    change: str,
    version: str,
    percent: float,
    guard: Guard | None = None,
    force: bool = False,
) -> Labels:
    """Apply `change` (canary, promote, rollback, shadow) to a model's labels, check that
    every version they name loads, record the change in `changes`, and only then write them;
    returns the new labels. A promotion of a version whose guard fired is refused unless
    `force`."""
    check_name(model, "model name")
    if version:
        _version_name(version, "version")
    root = repository.resolve()
    directory = _inside(root, root / model)
    manifest = directory / MANIFEST
    if not manifest.exists():
        raise RepositoryError(f"no model {model!r} with a manifest in {repository}")
    labels = read_labels(manifest)
    if change == "canary":
        updated = Labels(
            labels.stable, version, percent, labels.history, labels.shadow, guard, labels.changes
        )
    elif change == "promote":
        chosen = version or labels.canary
        if not chosen:
            raise RepositoryError(f"{model!r} has no canary; name the version to promote")
        breach = labels.guard.breached if labels.guard is not None else None
        if breach is not None and breach.version == chosen and not force:
            raise RepositoryError(
                f"refusing to promote {chosen!r}: its guard fired at {breach.at} "
                f"({breach.figure} was {breach.value:g}, breaking {breach.expression}; "
                f"by {breach.by}); --force promotes it anyway"
            )
        updated = labels.promoted(chosen)
    elif change == "shadow":
        if version and version == labels.stable:
            raise RepositoryError(
                f"{version!r} is {model!r}'s stable version; it cannot shadow itself"
            )
        updated = Labels(
            labels.stable,
            labels.canary,
            labels.canary_percent,
            labels.history,
            version or None,
            labels.guard,
            labels.changes,
        )
    else:
        updated = labels.rolled_back()
    updated = updated.changed(_now(), _who(), change, _describe_change(change, updated, force))
    versions = sorted(path.stem for path in version_files(directory))
    named_labels = (
        ("stable", updated.stable),
        ("canary", updated.canary),
        ("shadow", updated.shadow),
    )
    for label, named in named_labels:
        if named is None:
            continue
        if named not in versions:
            raise RepositoryError(
                f"{model!r} has no version {named!r} to label {label} (it has {versions})"
            )
        _loads(directory / f"{named}.json", model, named)
    write_labels(manifest, updated)
    return updated


def _version_name(version: str, what: str) -> str:
    check_name(version, what)
    if version in RESERVED_VERSIONS:
        raise RepositoryError(f"{what} {version!r} is reserved, not a version name")
    return version


def _inside(root: Path, path: Path) -> Path:
    """`path` with its links resolved, if that is inside the repository `root`."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root) or resolved == root:
        raise RepositoryError(f"{path} is outside the repository {root}")
    return resolved


def _loads(path: Path, model: str, version: str) -> LinearModel:
    """The version's artifact, if it loads and is the version its file is named after."""
    loaded = load_artifact(path)
    if (loaded.name, loaded.version) != (model, version):
        raise RepositoryError(
            f"{path} holds {loaded.name!r} version {loaded.version!r}, "
            f"not {model!r} version {version!r}"
        )
    return loaded


def _report_refused(repository: Repository) -> None:
    for refused in describe_refused(repository):
        kept = " (still served from memory)" if refused["still_served"] else ""
        print(
            f"diabetes-models: refused {refused['path']}: {refused['reason']}{kept}",
            file=sys.stderr,
        )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _who() -> str:
    return f"diabetes-models ({getpass.getuser()}@{socket.gethostname()})"


def _describe_change(change: str, labels: Labels, force: bool) -> str:
    if change == "canary":
        guards = (
            ", guards " + " and ".join(e.text for e in labels.guard.expressions)
            if labels.guard is not None
            else ""
        )
        return f"canary {labels.canary} at {labels.canary_percent:g}%{guards}"
    if change == "shadow":
        return f"shadow {labels.shadow}" if labels.shadow else "shadow cleared"
    return f"stable {labels.stable}" + (" (forced)" if force else "")


def guard_from(args: argparse.Namespace) -> Guard | None:
    """The canary command's guard, or None without `--guard`."""
    if not args.guard:
        return None
    if args.min_compared < 1:
        raise GuardError("--min-compared must be at least 1")
    return Guard(
        tuple(parse_expression(text) for text in args.guard),
        parse_window(args.window),
        args.min_compared,
    )


def print_report(model: str, servers: Sequence[str], version: str, as_json: bool) -> None:
    documents = report(model, servers, version)
    print(json.dumps(documents, indent=2) if as_json else render(model, documents))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "report":
        try:
            print_report(args.model, args.server, "", args.json)
        except ReportError as exc:
            print(f"diabetes-models: {exc}", file=sys.stderr)
            return 1
        return 0
    repository: Path = args.repository
    try:
        if args.command == "shadow" and bool(args.version) == bool(args.clear):
            raise RepositoryError("name the shadow version, or --clear (not both)")
        if args.command == "promote" and args.server:
            labels = read_labels(repository / args.model / MANIFEST)
            print_report(args.model, args.server, args.version or labels.canary or "", False)
        if args.command == "list":
            found = load_repository(repository, DEFAULT_MODEL)
            print(json.dumps(describe(found), indent=2))
            _report_refused(found)
            return 1 if found.refused else 0
        if args.command == "add":
            target = add_version(repository, args.artifact)
            print(f"added {target}")
        else:
            labels = move_labels(
                repository,
                args.model,
                args.command,
                getattr(args, "version", ""),
                getattr(args, "percent", 0.0),
                guard_from(args) if args.command == "canary" else None,
                getattr(args, "force", False),
            )
            print(json.dumps({"model": args.model, **labels.document()}))
    except (ArtifactError, InvalidNameError, RepositoryError, GuardError, ReportError) as exc:
        print(f"diabetes-models: {exc}", file=sys.stderr)
        return 1
    # Done; what a server will read of the whole repository, as warnings.
    try:
        _report_refused(load_repository(repository, DEFAULT_MODEL))
    except RepositoryError as exc:
        print(f"diabetes-models: warning: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
