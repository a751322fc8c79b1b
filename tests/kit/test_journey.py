"""The learner's way from the starter to 100: every pointer names the function to work on.

The README's loop has a learner write ``send``, then ``reconcile``, then ``rollback``,
grading after each. At every stage each failing scenario must send them to the
function that is not written yet, or — once all three are written but one has a bug
— to the function with the bug, never to another one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from mistakes import MISTAKES, SOLUTION, flow_source

from chatkit.grading.results import Outcome
from chatkit.grading.runner import grade


def stubbed(source: str, *names: str) -> str:
    """``source`` with the bodies of the functions ``names`` replaced by the starter's stub."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    for node in sorted(tree.body, key=lambda n: n.lineno, reverse=True):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            first = node.body[0]
            start = (first.end_lineno if isinstance(first, ast.Expr) else first.lineno - 1) or 0
            end = node.end_lineno or start
            stub = f'    raise NotImplementedError("{node.name} is not written yet")\n'
            lines[start:end] = [stub]
    return "".join(lines)


STAGES: dict[str, tuple[str, ...]] = {
    "nothing written yet": ("send", "reconcile", "rollback"),
    "send written": ("reconcile", "rollback"),
    "send and reconcile written": ("rollback",),
}
"""Each stage of the loop, and the functions that are still stubs."""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_points_at_what_is_not_written(stage: str, tmp_path: Path) -> None:
    stubs = STAGES[stage]
    flow = tmp_path / "flow.py"
    flow.write_text(stubbed(SOLUTION.read_text(), *stubs))
    report = grade(str(flow))
    failing = [result for result in report.results if result.outcome is not Outcome.PASSED]
    assert failing, f"{stage}: nothing failed"
    for result in failing:
        assert result.function in stubs, (
            f"{stage}: {result.family} › {result.name} points at {result.function} "
            f"({result.outcome.value}: {result.message[:80]})"
        )
    if len(stubs) == 3:
        assert report.score == 0


@pytest.mark.timeout(60)
def test_a_bug_in_one_function_points_only_at_it(tmp_path: Path) -> None:
    """All three written, rollback undoes what the echo confirmed: only rollback is named."""
    flow = tmp_path / "flow.py"
    flow.write_text(flow_source(MISTAKES["rollback_fails_sent"]))
    report = grade(str(flow))
    named = {r.function for r in report.results if r.outcome is not Outcome.PASSED}
    assert named == {"rollback"}
