"""`diabetes-models`: roll models out and back by changing data, not code.

    diabetes-models list     --repository DIR
    diabetes-models add      --repository DIR ARTIFACT.json   (a new version; stable if first)
    diabetes-models canary   --repository DIR MODEL VERSION [--percent P]
    diabetes-models promote  --repository DIR MODEL [VERSION]  (default: the canary)
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
import json
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from command_settings import Setting, SettingsParser, env_var_for
from model.artifact import ArtifactError, LinearModel, load_artifact
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


def move_labels(repository: Path, model: str, change: str, version: str, percent: float) -> Labels:
    """Apply `change` (canary, promote, rollback) to a model's labels, check that every
    version they name loads, and only then write them; returns the new labels."""
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
        updated = Labels(labels.stable, version, percent, labels.history)
    elif change == "promote":
        chosen = version or labels.canary
        if not chosen:
            raise RepositoryError(f"{model!r} has no canary; name the version to promote")
        updated = labels.promoted(chosen)
    else:
        updated = labels.rolled_back()
    versions = sorted(path.stem for path in version_files(directory))
    for label, named in (("stable", updated.stable), ("canary", updated.canary)):
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    repository: Path = args.repository
    try:
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
            )
            print(json.dumps({"model": args.model, **labels.document()}))
    except (ArtifactError, InvalidNameError, RepositoryError) as exc:
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
