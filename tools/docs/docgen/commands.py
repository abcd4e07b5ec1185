"""Every command's flags, environment variables and defaults, read from its own parser.

A doc's `flags:NAME` names a console script of either distribution (`[project.scripts]` in
pyproject.toml and client/pyproject.toml) or a module run with `python -m`; the parser is the
`build_parser()` of the script's module (or of that module), built with no `DIABETES_*`
variable of this shell set, so the defaults shown are the code's. No list of commands is
kept here: a new console script is documented by adding its marker.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from tools.docs.docgen.tables import code, table

ROOT = Path(__file__).resolve().parents[3]
ENV_IN_HELP = re.compile(r"\s*\[(?P<env>[A-Z][A-Z0-9_]+)(?:, default (?P<default>[^\]]+))?\]")


PYPROJECTS = (ROOT / "pyproject.toml", ROOT / "client" / "pyproject.toml")


def console_scripts() -> dict[str, str]:
    """Every console script of the two distributions: its name and `module:function`."""
    scripts: dict[str, str] = {}
    for pyproject in PYPROJECTS:
        scripts.update(tomllib.loads(pyproject.read_text())["project"].get("scripts", {}))
    return scripts


def command_module(name: str) -> str:
    """The module whose `build_parser` builds the command `name`'s parser."""
    scripts = console_scripts()
    if name in scripts:
        return scripts[name].partition(":")[0]
    if "." in name and importlib.util.find_spec(name) is not None:
        return name
    raise KeyError(f"no command {name!r}: the console scripts are {', '.join(sorted(scripts))}")


def parser_factory(name: str) -> Callable[[], argparse.ArgumentParser]:
    module = importlib.import_module(command_module(name))
    factory = getattr(module, "build_parser", None)
    if factory is None:
        raise KeyError(f"{module.__name__} (command {name!r}) has no build_parser()")
    return cast(Callable[[], argparse.ArgumentParser], factory)


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


def parser_of(name: str) -> argparse.ArgumentParser:
    factory = parser_factory(name)
    with _clean_environment():
        return factory()


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
    parser = parser_of(name)
    rows = _rows(parser, "")
    for sub, sub_parser in subcommands(parser).items():
        rows += _rows(sub_parser, f"{sub} ", parser)
    return table(["Flag", "Environment variable", "Default", "Meaning"], rows)
