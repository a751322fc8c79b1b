"""What several of the kit's test modules share: a stub made from the solution, results
as a grading child reports them, and the grader's command line run in a fresh process."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chatkit.grading.results import Location, Outcome
from chatkit.grading.results import TestResult as Result
from chatkit.kit_home import kit_root
from chatkit.target import FUNCTIONS

SOLUTION = kit_root() / "solution" / "flow.py"
GRADER_TIMEOUT = 110
"""Seconds a grading through the command line may take before the test fails."""


def run_grader(
    *args: str,
    cwd: Path | None = None,
    grader: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python grader.py ARGS`` in a fresh process, its screen as text.

    ``cwd`` is the folder it runs from and ``grader`` the grader.py it runs (the kit's,
    by default); ``env`` is its whole environment (by default this one, without colour
    and 100 columns wide, so the screens tests read are the same everywhere).
    """
    return subprocess.run(
        [sys.executable, str(grader or kit_root() / "grader.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd or kit_root(),
        timeout=GRADER_TIMEOUT,
        env=dict(env) if env is not None else {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
        check=False,
    )


def write_stub(folder: Path) -> Path:
    """The solution with the bodies of send, reconcile and rollback not written yet."""
    source = SOLUTION.read_text()
    lines = source.splitlines()
    functions = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in FUNCTIONS
    ]
    assert {node.name for node in functions} == set(FUNCTIONS)
    for node in sorted(functions, key=lambda node: -node.lineno):
        body = node.body[1:] if ast.get_docstring(node) else node.body
        indent = " " * body[0].col_offset
        stub = f'{indent}raise NotImplementedError("{node.name} is not written yet")'
        lines[body[0].lineno - 1 : node.end_lineno] = [stub]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "flow.py").write_text("\n".join(lines) + "\n")
    return folder


def scenario(family: str, name: str, outcome: Outcome = Outcome.PASSED, **fields: Any) -> Result:
    """A result as the child reports it, for the screens' own tests."""
    return Result(f"{family}::{name}", name, family, outcome, **fields)


def crash(family: str, name: str, line: int = 32) -> Result:
    """A scenario whose send crashed on a misspelt name."""
    where = Location("mine/flow.py", line, "send", "check_body(bdy)")
    return scenario(
        family,
        name,
        Outcome.CRASHED,
        error_type="NameError",
        message="name 'bdy' is not defined",
        location=where,
        function="send",
    )
