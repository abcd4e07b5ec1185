"""The command line's connection settings, declared once: flag, environment variable,
default and help. `diabetes-client --help` (and the docs' flags table) is generated from
these, so no variable's name is written twice. (The client distribution cannot import the
service's `command_settings`; this is its own, smaller version.)"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_TARGET = "127.0.0.1:50051"
TRUE_WORDS = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ClientSetting:
    """One connection option. A `switch` is `--flag` / `--no-flag`, and its variable is on
    when it says 1, true, yes or on. An empty variable counts as unset."""

    flag: str
    help: str
    default: Any = None
    env: str | None = None
    type: Callable[[str], Any] = str
    metavar: str | None = None
    switch: bool = False

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def value(self, environ: Mapping[str, str]) -> Any:
        """What the option is when the command line does not give it."""
        raw = environ.get(self.env, "") if self.env else ""
        if not raw:
            return self.default
        return raw.strip().lower() in TRUE_WORDS if self.switch else self.type(raw)

    @property
    def help_text(self) -> str:
        shown = "" if self.default in (None, "", False) else f"default {self.default}"
        if self.env:
            return f"{self.help} [{self.env}{', ' + shown if shown else ''}]"
        return f"{self.help} ({shown})" if shown else self.help


CONNECTION: tuple[ClientSetting, ...] = (
    ClientSetting("--target", "server address", DEFAULT_TARGET, env="DIABETES_TARGET"),
    ClientSetting("--timeout", "seconds per call", 30.0, type=float),
    ClientSetting(
        "--token",
        "bearer token (JWT) sent with every call; prefer the variable: a flag shows in the "
        "process list",
        env="DIABETES_TOKEN",
    ),
    ClientSetting(
        "--tls",
        "connect over TLS (on when --tls-ca is given)",
        False,
        env="DIABETES_TLS",
        switch=True,
    ),
    ClientSetting(
        "--tls-ca",
        "PEM file of the CAs to trust; implies --tls (default: the system's)",
        env="DIABETES_TLS_CA",
        metavar="FILE",
    ),
    ClientSetting(
        "--tls-server-name",
        "name the server's certificate must carry, if not the target's host",
        env="DIABETES_TLS_SERVER_NAME",
        metavar="NAME",
    ),
    ClientSetting(
        "--model",
        "the model to ask (`info` lists them; default: the server's default model)",
        "",
        env="DIABETES_MODEL_NAME",
        metavar="NAME",
    ),
    ClientSetting(
        "--version",
        "a version of that model, or a label: stable, canary (default: the stable version, "
        "or the canary for its share of calls)",
        "",
        env="DIABETES_MODEL_VERSION",
        metavar="VERSION",
    ),
)


def add_options(parser: argparse.ArgumentParser, settings: Sequence[ClientSetting]) -> None:
    """The settings as flags without defaults of their own (argparse.SUPPRESS): a parser that
    shares them with its subcommands sets the defaults once (`defaults`)."""
    for setting in settings:
        if setting.switch:
            parser.add_argument(
                setting.flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=setting.help_text,
            )
        else:
            parser.add_argument(
                setting.flag,
                type=setting.type,
                metavar=setting.metavar,
                default=argparse.SUPPRESS,
                help=setting.help_text,
            )


def defaults(settings: Sequence[ClientSetting], environ: Mapping[str, str]) -> dict[str, Any]:
    return {setting.dest: setting.value(environ) for setting in settings}
