"""How every command of the service declares its settings: each `Setting` names its flag,
environment variable, default, type and help once, and `SettingsParser` turns it into an
argparse flag whose default comes from the environment variable when it is set.

    parser = SettingsParser(prog="diabetes-server", description="...")
    parser.add_setting(Setting("--port", "gRPC port", default=50051, type=port_number))

`describe(parser)` lists a parser's options for the docs (flag, environment variable,
default, help). This package is a leaf: the standard library only, no command module, no
grpc. It sits beside `model/` and `server/` rather than in either, because both declare
settings (`diabetes-train`, `diabetes-models`; the server, the stack, the Envoy renderer,
the health check) and `model/` never imports `server/`. The client distribution cannot
import the service's packages; it declares its few settings itself
(`diabetes_client/settings.py`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "DIABETES_"
# Where the installed top-level packages (model, server, ...) live.
PACKAGES_ROOT = Path(__file__).resolve().parents[1]


def env_var_for(flag: str) -> str:
    """`--grace-period` -> `DIABETES_GRACE_PERIOD`."""
    return ENV_PREFIX + flag.removeprefix("--").replace("-", "_").upper()


@dataclass(frozen=True)
class Setting:
    """One option of a command: flag (and any aliases), environment variable (derived from
    the flag unless given; None for a flag without one), default, converter/validator and
    help. A `switch` takes no value (on when given); a `required` setting must be given,
    by its flag or its variable."""

    flag: str
    help: str
    default: Any
    type: Callable[[str], Any] = str
    dest: str | None = None
    choices: Sequence[str] | None = None
    env: str | None = ""
    aliases: tuple[str, ...] = ()
    switch: bool = False
    required: bool = False

    @property
    def name(self) -> str:
        """The attribute the parsed value is stored under."""
        return self.dest or self.flag.removeprefix("--").replace("-", "_")

    @property
    def env_var(self) -> str | None:
        return env_var_for(self.flag) if self.env == "" else self.env


class SettingsParser(argparse.ArgumentParser):
    """An ArgumentParser that shows defaults in --help (unless given another formatter) and
    knows which flag reads which environment variable. Its subcommands' parsers are
    SettingsParsers reading the same environment."""

    def __init__(self, *args: Any, environ: Mapping[str, str] | None = None, **kwargs: Any):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.env_vars: dict[str, str] = {}

    def add_subcommand(
        self, commands: argparse._SubParsersAction[Any], name: str, **kwargs: Any
    ) -> SettingsParser:
        """`commands.add_parser(name, ...)`, reading this parser's environment and, unless
        told otherwise, formatting help as this parser does."""
        kwargs.setdefault("formatter_class", self.formatter_class)
        parser: SettingsParser = commands.add_parser(name, environ=self.environ, **kwargs)
        return parser

    def add_setting(
        self, setting: Setting, group: argparse._ActionsContainer | None = None
    ) -> argparse.Action:
        env = setting.env_var
        raw = self.environ.get(env) if env else None
        if setting.required and not raw:
            raw = None  # an empty variable gives no value that must be given
        help_text = f"{setting.help} [{env}]" if env else setting.help
        target = group or self
        if setting.switch:
            on = setting.default if raw is None else boolean(raw)
            action = target.add_argument(
                setting.flag,
                *setting.aliases,
                dest=setting.name,
                action="store_true",
                default=on,
                help=help_text,
            )
        else:
            # argparse converts a string default with `type` (and reports a bad value).
            action = target.add_argument(
                setting.flag,
                *setting.aliases,
                dest=setting.name,
                type=setting.type,
                default=setting.default if raw is None else raw,
                choices=setting.choices,
                required=setting.required and raw is None,
                help=help_text,
            )
        if env:
            self.env_vars[setting.name] = env
        return action


@dataclass(frozen=True)
class OptionDoc:
    """One option of a command, as the docs show it."""

    flag: str
    env_var: str | None
    default: str
    help: str


def describe(parser: argparse.ArgumentParser) -> list[OptionDoc]:
    """Every optional flag of a parser (but --help), in declaration order."""
    env_vars = getattr(parser, "env_vars", {})
    docs = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        env = env_vars.get(action.dest)
        text = (action.help or "").removesuffix(f" [{env}]") if env else action.help or ""
        docs.append(OptionDoc(max(action.option_strings, key=len), env, _shown(action), text))
    return docs


def _shown(action: argparse.Action) -> str:
    """A default as the docs show it: a file inside the installed packages by its path
    relative to them (`model/artifacts/...`), never this machine's absolute path."""
    default = action.default
    if default is None or default is argparse.SUPPRESS:
        return ""
    if isinstance(default, Path) and default.is_relative_to(PACKAGES_ROOT):
        return str(default.relative_to(PACKAGES_ROOT))
    return str(default)


# Converters shared by several commands.


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def port_number(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value}")
    return value


def boolean(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}
