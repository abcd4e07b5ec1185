"""`diabetes-models`: roll models out and back by changing data, not code.

    diabetes-models list     --repository DIR
    diabetes-models add      --repository DIR ARTIFACT.json   (a new version; stable if first)
    diabetes-models canary   --repository DIR MODEL VERSION [--percent P]
    diabetes-models promote  --repository DIR MODEL [VERSION]  (default: the canary)
    diabetes-models rollback --repository DIR MODEL

Every change writes one file atomically (a new version's artifact, or a model's
`labels.json`), so a server watching the repository (`--watch-model true`) or told to
reload (SIGHUP) sees the old state or the new one, never half of either. An artifact is
validated before it is copied, and labels must name versions that are there. No grpc here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from command_settings import Setting, SettingsParser, env_var_for
from model.artifact import ArtifactError, load_artifact
from model.repository import (
    DEFAULT_MODEL,
    LABELS,
    MANIFEST,
    Labels,
    RepositoryError,
    describe,
    load_repository,
    read_labels,
    write_labels,
)

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
    promote = command("promote", "make a version (the canary by default) stable")
    promote.add_argument("model")
    promote.add_argument("version", nargs="?", default="", help="default: the canary")
    rollback = command("rollback", "make the previous stable version stable again")
    rollback.add_argument("model")
    return parser


def _percent(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be from 0 to 100, got {text}")
    return value


def add_version(repository: Path, artifact: Path) -> Path:
    """Copy a valid artifact to `<repository>/<name>/<version>.json`; the first version of a
    model becomes its stable one. Returns the new file."""
    model = load_artifact(artifact)  # refuses an invalid artifact before anything is written
    if model.version in LABELS:
        raise RepositoryError(f"{model.version!r} is a label, not a version name")
    if (repository / f"{model.name}.json").exists():
        raise RepositoryError(
            f"{repository / model.name}.json serves {model.name!r} as a single file; "
            f"move it to {model.name}/<its version>.json with a {MANIFEST} first"
        )
    directory = repository / model.name
    target = directory / f"{model.version}.json"
    if target.exists():
        raise RepositoryError(f"{target} exists: version {model.version!r} is already there")
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
        write_labels(manifest, Labels(model.version))
    return target


def move_labels(repository: Path, model: str, change: str, version: str, percent: float) -> Labels:
    """Apply `change` (canary, promote, rollback) to a model's labels, check the whole
    repository would load with them, and write them; returns the new labels."""
    manifest = repository / model / MANIFEST
    if not manifest.exists():
        raise RepositoryError(f"no model {model!r} with a manifest in {repository}")
    labels = read_labels(manifest)
    if change == "canary":
        updated = Labels(labels.stable, version, percent, labels.history)
    elif change == "promote":
        chosen = version or labels.canary
        if not chosen:
            raise RepositoryError(f"{model!r} has no canary; name the version to promote")
        updated = labels.promoted(chosen)
    else:
        updated = labels.rolled_back()
    versions = {path.stem for path in (repository / model).glob("*.json")} - {"labels"}
    for label, named in (("stable", updated.stable), ("canary", updated.canary)):
        if named is not None and named not in versions:
            raise RepositoryError(
                f"{model!r} has no version {named!r} to label {label} (it has {sorted(versions)})"
            )
    write_labels(manifest, updated)
    return updated


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    repository: Path = args.repository
    try:
        if args.command == "list":
            found = load_repository(repository, DEFAULT_MODEL)
            print(json.dumps(describe(found), indent=2))
            return 0
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
            )
            print(json.dumps({"model": args.model, **labels.document()}))
        load_repository(repository, DEFAULT_MODEL)  # what a server will read: say if it fails
    except (ArtifactError, RepositoryError) as exc:
        print(f"diabetes-models: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
