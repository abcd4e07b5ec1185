"""Every command's flags, environment variables and defaults, read from its own parser.

Each command is named by an importable callable: a parser factory (returns an
`argparse.ArgumentParser`) or an entry point that builds its parser and parses argv (the
parser is caught when it starts parsing). Re-point an entry when a command moves.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from docgen.tables import code, table

ROOT = Path(__file__).resolve().parents[3]
ENV_IN_HELP = re.compile(r"\s*\[(?P<env>[A-Z][A-Z0-9_]+)(?:, default (?P<default>[^\]]+))?\]")


@dataclass(frozen=True)
class Command:
    name: str  # as a user types it
    factory: str  # "module:callable"


COMMANDS = (
    Command("diabetes-service", "server.stack.__main__:parse_options"),
    Command("diabetes-server", "server.config:build_parser"),
    Command("diabetes-train", "model.train:build_parser"),
    Command("diabetes-client", "diabetes_client.cli:build_parser"),
    Command("envoy-config", "server.stack.envoy_config:main"),
)


class _ParserCaughtError(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


@contextlib.contextmanager
def _clean_environment() -> Iterator[None]:
    """Defaults as documented: no DIABETES_* variable of this shell leaks into them."""
    saved = {key: value for key, value in os.environ.items() if key.startswith("DIABETES_")}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def parser_of(command: Command) -> argparse.ArgumentParser:
    module, _, attribute = command.factory.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    original = argparse.ArgumentParser.parse_known_args

    def catch(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> NoReturn:
        raise _ParserCaughtError(self)

    argparse.ArgumentParser.parse_known_args = catch  # type: ignore[method-assign]
    try:
        with _clean_environment():
            try:
                result = factory()
            except TypeError:
                result = factory([])
    except _ParserCaughtError as caught:
        return caught.parser
    finally:
        argparse.ArgumentParser.parse_known_args = original  # type: ignore[method-assign]
    if not isinstance(result, argparse.ArgumentParser):
        raise TypeError(f"{command.factory} returned {type(result).__name__}, not a parser")
    return result


@dataclass(frozen=True)
class Flag:
    flags: str
    env: str
    default: str
    help: str


def _default(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    value = action.default
    if value is argparse.SUPPRESS:
        value = parser.get_default(action.dest)
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        return "off" if value is False else "on"
    if value is None or value == [] or value is argparse.SUPPRESS:
        return ""
    if isinstance(value, (str, Path)) and Path(value).is_absolute():
        with contextlib.suppress(ValueError):
            value = Path(value).relative_to(ROOT)
    return str(value)


DEFAULT_IN_HELP = re.compile(r"\s*\(default: %\(default\)s\)")


def flags(
    parser: argparse.ArgumentParser, parent: argparse.ArgumentParser | None = None
) -> list[Flag]:
    """The parser's options; for a subcommand, those its parent does not already list."""
    inherited = set(parent._option_string_actions) if parent else set()
    out = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if inherited.intersection(action.option_strings):
            continue
        text = DEFAULT_IN_HELP.sub("", action.help or "").replace("%%", "%")
        env = ENV_IN_HELP.search(text)
        default = _default(parser, action)
        if env and env["default"] and not default:
            default = env["default"]
        names = ", ".join(action.option_strings) or action.metavar or action.dest
        if action.choices and not action.option_strings:
            names = str(names)
        out.append(
            Flag(
                flags=str(names),
                env=env["env"] if env else "",
                default=default,
                help=ENV_IN_HELP.sub("", text).strip(),
            )
        )
    return out


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _rows(
    parser: argparse.ArgumentParser, prefix: str, parent: argparse.ArgumentParser | None = None
) -> list[list[str]]:
    return [
        [f"{prefix}{code(flag.flags)}", code(flag.env), code(flag.default), flag.help]
        for flag in flags(parser, parent)
    ]


def render(name: str) -> str:
    """The flags table of the command called `name`."""
    command = next((c for c in COMMANDS if c.name == name), None)
    if command is None:
        raise KeyError(f"no command {name!r} in docgen.commands.COMMANDS")
    parser = parser_of(command)
    rows = _rows(parser, "")
    for sub, sub_parser in subcommands(parser).items():
        rows += _rows(sub_parser, f"{sub} ", parser)
    return table(["Flag", "Environment variable", "Default", "Meaning"], rows)
