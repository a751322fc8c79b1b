"""When the grader refuses a grade: a flow that reaches for what a flow may not, or a
kit whose own files changed while the learner's code ran.

A refused grade is not a low score: no scenario counts, and the report says why,
with the line to change.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from chatkit.grading.results import LoadError, Location
from chatkit.sandbox import Violation
from chatkit.sandbox.policy import module_list
from chatkit.target import display_path, kit_root

KIT_PARTS = ("chatkit", "tests/scenarios", "solution", "grader.py", "pyproject.toml")
"""What a grading run reads: the runtime, the scenarios, the reference (for ``--compare``)
and the settings. The target's own folder is left out (the learner may edit it)."""
NOT_GRADING = ("chatkit/live", "chatkit/tui")
"""Parts of the runtime a grading run never loads."""
SHOWN_VIOLATIONS = 8


def refusal(violations: list[Violation]) -> LoadError | None:
    """The refusal for a flow the static check found fault with, or None if it found none."""
    if not violations:
        return None
    first = violations[0]
    lines = [
        f"{display_path(v.file)}, line {v.line}: {v.why}" for v in violations[:SHOWN_VIOLATIONS]
    ]
    if len(violations) > SHOWN_VIOLATIONS:
        lines.append(f"… and {len(violations) - SHOWN_VIOLATIONS} more")
    message = (
        "your flow reaches for something a flow may not use. The grader runs only flows that "
        "keep to what a flow needs, so that no code can change its own score. Change these "
        "lines, then grade again:\n"
        + "\n".join(f"  • {line}" for line in lines)
        + f"\n\nA flow may import chatkit's public names, helper modules of its own beside "
        f"flow.py, and these standard modules: {module_list()}."
    )
    location = Location(display_path(first.file), first.line, first.function, first.code)
    return LoadError(message, error_type="Grade refused", location=location, refused=True)


def kit_fingerprint(target_folder: Path) -> dict[str, str]:
    """A digest of each of the kit's own files, by path (the target's folder left out)."""
    root = kit_root()
    target = target_folder.resolve()
    digests: dict[str, str] = {}
    for part in KIT_PARTS:
        base = root / part
        paths = sorted(base.rglob("*")) if base.is_dir() else [base]
        for path in paths:
            name = path.relative_to(root).as_posix()
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and not path.is_relative_to(target)
                and not name.startswith(NOT_GRADING)
            ):
                digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def tampered(before: dict[str, str], after: dict[str, str]) -> LoadError | None:
    """A refusal if any of the kit's files changed, appeared or vanished during grading."""
    changed = sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )
    if not changed:
        return None
    shown = ", ".join(changed[:SHOWN_VIOLATIONS]) + (
        " …" if len(changed) > SHOWN_VIOLATIONS else ""
    )
    return LoadError(
        f"the kit's own files changed while your code was graded ({shown}). No code may change "
        "the kit: put them back (for example `git checkout -- chatkit tests solution`) and grade "
        "again.",
        error_type="Grade refused",
        refused=True,
    )
