"""The kit's parts, read from their source: dependencies point one way.

The model and the state at the bottom; what a scenario scripts (`chatkit.script`) and the
sandbox a flow runs in above them; the phones above those; the judge (`chatkit.engine`)
above the phones; the grader above the judge. Every import counts, the lazy ones inside
functions and those for type checkers only too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import chatkit

KIT = Path(chatkit.__file__).parent


def part_of(module: str) -> str:
    """The part a module belongs to: ``chatkit.engine.rules`` is ``chatkit.engine``."""
    return ".".join(module.split(".")[:2])


def parts_imported() -> dict[str, set[str]]:
    """Each part of the kit, and the other parts it imports."""
    graph: dict[str, set[str]] = {}
    for path in KIT.rglob("*.py"):
        module = ".".join(path.relative_to(KIT.parent).with_suffix("").parts)
        part = part_of(module.removesuffix(".__init__"))
        imported = graph.setdefault(part, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            imported |= {part_of(name) for name in names if name.startswith("chatkit")} - {part}
    return graph


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for other in graph.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def test_no_part_of_the_kit_leads_back_to_itself() -> None:
    graph = parts_imported()
    circles = sorted(part for part in graph if part in reaches(graph, part))
    assert circles == []


def test_what_runs_beside_learner_code_never_imports_the_judge_or_the_grader() -> None:
    graph = parts_imported()
    for part in ("chatkit.phone", "chatkit.sandbox", "chatkit.script", "chatkit.target"):
        assert {"chatkit.engine", "chatkit.grading"} & reaches(graph, part) == set(), part


def test_the_script_stands_on_the_model_and_the_state_alone() -> None:
    assert reaches(parts_imported(), "chatkit.script") <= {"chatkit.model", "chatkit.state"}


def test_the_model_and_the_state_import_nothing_above_them() -> None:
    graph = parts_imported()
    assert reaches(graph, "chatkit.model") == set()
    assert reaches(graph, "chatkit.state") == {"chatkit.model"}
