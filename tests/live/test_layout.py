"""The live package's parts, read from their source: who imports whom, and no circles.

Every import counts, the lazy ones inside functions and those only for type checkers
too: a circle through any of them is a circle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import chatkit.live

LIVE = Path(chatkit.live.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(LIVE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of `chatkit.live`, and the modules of `chatkit.live` it imports."""
    modules = {module_name(path): path for path in LIVE.rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name} imports relatively; the kit spells imports out"
                base = node.module or ""
                imported |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in map(known, imported) if m is not None and m != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, as the modules on it (Tarjan's strongly connected parts)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            part = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(part) > 1:
                found.append(sorted(part))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def imports_outside(graph: dict[str, set[str]], package: str, allowed: set[str]) -> set[str]:
    """What the modules of ``package`` import from `chatkit.live` beyond itself and ``allowed``."""
    inside = {m for m in graph if m == package or m.startswith(package + ".")}
    reached = set().union(*(graph[m] for m in inside))
    return {m for m in reached - inside if m not in allowed and m != "chatkit.live"}


def test_the_live_package_has_no_import_circle() -> None:
    graph = import_graph()
    assert "chatkit.live.server.assembly" in graph  # the walk found the parts
    assert circles(graph) == []


WIRE = {"chatkit.live.wire", "chatkit.live.wire.codec"}
"""The wire format: what the client and the storage may share with the server."""


def test_the_client_imports_only_the_wire_format() -> None:
    outside = imports_outside(import_graph(), "chatkit.live.client", WIRE)
    assert outside == set()


def test_the_storage_imports_nothing_of_the_server() -> None:
    outside = imports_outside(import_graph(), "chatkit.live.storage", WIRE)
    assert outside == set()


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
