"""The scenario families the grader knows, their weights and where their hints live.

A family is declared by a scenario module with ``pytest.mark.family("name")``. A
family the grader does not know (a teacher's own, say) still counts, with
`DEFAULT_WEIGHT`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    weight: int
    about: str
    """One line saying what the family checks, shown in the report."""
    heavy: bool = False
    """Its scenarios take most of a grading's time (thousands of timelines): a single
    grading runs them in a child process of their own, beside the others."""


DEFAULT_WEIGHT = 10

FAMILIES: tuple[Family, ...] = (
    Family("normal flow", 10, "one message, shown at once and confirmed"),
    Family("server-first arrival", 12, "the echo beats the ack"),
    Family("failure and rollback", 12, "refused and timed-out sends stay, as failed"),
    Family("concurrency", 12, "many sends in flight, answers out of order"),
    Family("duplicates", 12, "double echoes, history backfills, identical bodies"),
    Family("edge cases", 12, "late acks, retries, bad input, a frozen clock"),
    Family("scale", 10, "every event costs the same with 1k or 200k messages"),
    Family(
        "all timelines",
        10,
        "every ordering of a few sends, acks, echoes and failures",
        heavy=True,
    ),
    Family("failover", 10, "a fallback transport never duplicates a message"),
)

_BY_NAME = {family.name: family for family in FAMILIES}


def family_named(name: str) -> Family:
    """The known family with this name, or a teacher's own with the default weight."""
    return _BY_NAME.get(name) or Family(name, DEFAULT_WEIGHT, "a scenario family of your own")


def family_order(name: str) -> int:
    """Known families in the design's order, then any others."""
    names = [family.name for family in FAMILIES]
    return names.index(name) if name in names else len(names)


def normalized(name: str) -> str:
    """A family name as the learner may type it: case, ``-``, ``_`` and extra spaces ignored."""
    return " ".join(name.replace("-", " ").replace("_", " ").lower().split())


def scenario_names(paths: Iterable[Path]) -> dict[str, list[str]]:
    """The scenarios in these test files or folders, by family, in the report's order.

    The files are parsed, never imported: listing names must be instant and must not
    run anyone's code. A scenario's family comes from a ``family`` mark on it, its
    class or its module (``pytestmark``), as the grader's plugin reads it.
    """
    found: dict[str, list[str]] = {}
    for scenarios in _files(paths).values():
        for name, family in scenarios:
            found.setdefault(family, []).append(name)
    return {name: found[name] for name in sorted(found, key=family_order)}


def scenario_files(paths: Iterable[Path]) -> dict[Path, set[str]]:
    """The scenario files in these files or folders, in pytest's order, each with the
    families of its scenarios (read as `scenario_names` reads them; empty if unreadable)."""
    return {file: {family for _, family in scenarios} for file, scenarios in _files(paths).items()}


def _files(paths: Iterable[Path]) -> dict[Path, list[tuple[str, str]]]:
    found: dict[Path, list[tuple[str, str]]] = {}
    for file in _test_files(paths):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            found[file] = []
            continue
        found[file] = list(_scenarios(tree.body, _module_family(tree) or "other"))
    return found


def _test_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                file
                for file in path.rglob("*.py")
                if file.name.startswith("test_") or file.name.endswith("_test.py")
            )
        elif path.suffix == ".py":
            files.append(path)
    return files


def _module_family(tree: ast.Module) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return _family_mark(node.value)
    return None


def _scenarios(body: list[ast.stmt], family: str) -> Iterator[tuple[str, str]]:
    """``(test name, family)`` for the test functions and ``Test…`` classes' methods."""
    for node in body:
        own = _family_mark(*getattr(node, "decorator_list", []))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name.startswith("test"):
                yield node.name, own or family
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            marks = [_family_mark(s.value) for s in node.body if isinstance(s, ast.Assign)]
            yield from _scenarios(node.body, own or next(filter(None, marks), family))


def _family_mark(*nodes: ast.AST) -> str | None:
    """The name in the first ``….mark.family("name")`` call among ``nodes``."""
    for node in nodes:
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "family"
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                return call.args[0].value
    return None
