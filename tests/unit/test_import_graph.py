"""The import graph of the project's own code, read with `ast` (nothing is imported): no
cycles, counting imports inside functions as well as at module level, and data flowing one
way: `model` knows nothing of `server`, no face imports another, and the inference core
imports no face and no protobuf module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where the top-level packages live (the client's under client/src).
SOURCES = {
    "server": ROOT,
    "model": ROOT,
    "tools": ROOT,
    "command_settings": ROOT,
    "diabetes_client": ROOT / "client" / "src",
}
# Modules the faces share; they import no face.
# PredictBatch's wire decoder and reply writer are the typed face's own parts.
SHARED_BY_FACES = {
    "server.faces.oip_tensors",
    "server.faces.batch_request",
    "server.faces.batch_reply",
}
CORE = "server.inference"


def module_name(path: Path) -> str:
    for package, base in SOURCES.items():
        if path.is_relative_to(base / package):
            parts = path.relative_to(base).with_suffix("").parts
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise AssertionError(f"{path} is in no source package")


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package, base in SOURCES.items():
        for path in sorted((base / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def _resolve(name: str) -> str | None:
    """The project module `name` is, if it is one."""
    return name if name in modules() else None


def imports_of(module: str) -> Iterator[str]:
    """Every project module `module` imports, wherever in the file the import is."""
    path = modules()[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target is not None:
                    yield target
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                target = _resolve(f"{base}.{alias.name}")
                if target is None:
                    target = _resolve(base)
                if target is not None and target != module:
                    yield target


@cache
def graph() -> dict[str, frozenset[str]]:
    return {module: frozenset(imports_of(module)) for module in modules()}


def cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def face_of(module: str) -> str | None:
    """`server.faces.json_lane.schema` -> `json_lane`; None for a module of no face."""
    parts = module.split(".")
    if parts[:2] != ["server", "faces"] or len(parts) < 3 or module in SHARED_BY_FACES:
        return None
    return parts[2]


def test_the_graph_sees_the_projects_modules_and_their_imports() -> None:
    edges = graph()
    expected = {"server.app", CORE, "model.artifact", "diabetes_client", "command_settings"}
    assert expected | {"tools.docs.gen_api"} <= set(edges)
    assert "server.rpc" in edges[CORE]
    # A function-level import counts (`server.__main__` imports the metrics lazily).
    assert "server.metrics" in edges["server.__main__"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"})}) == [
        ["a", "b", "c"]
    ]


def test_there_are_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_model_imports_nothing_of_the_server() -> None:
    offending = {
        (module, target)
        for module, targets in graph().items()
        if module.split(".")[0] == "model"
        for target in targets
        if target.split(".")[0] == "server"
    }
    assert offending == set()


def test_no_face_imports_another() -> None:
    offending = {
        (module, target)
        for module, targets in graph().items()
        if face_of(module) is not None
        for target in targets
        if face_of(target) not in (None, face_of(module))
    }
    assert offending == set()


def test_what_the_faces_share_imports_no_face() -> None:
    offending = {
        (module, target)
        for module in SHARED_BY_FACES
        for target in graph()[module]
        if face_of(target) is not None
    }
    assert offending == set()


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph()[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_core_imports_no_face_and_no_protobuf_module() -> None:
    assert {target for target in reachable(CORE) if target.startswith("server.faces")} == set()
    tree = ast.parse(modules()[CORE].read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    generated = {
        name
        for name in imported
        if name.startswith(("diabetes.", "google.protobuf", "google.api", "grpc"))
    }
    assert generated == set()
