"""When the grader refuses a grade: a flow that reaches for what a flow may not, or a
kit whose own files changed while the learner's code ran.

A refused grade is not a low score: no scenario counts, and the report says why,
with the line to change.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from chatkit.grading.results import LoadError, Location
from chatkit.kit_files import kit_files
from chatkit.kit_home import kit_root
from chatkit.sandbox import Uncheckable, Violation
from chatkit.sandbox.policy import module_list
from chatkit.target import display_path

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


def uncheckable(error: Uncheckable) -> LoadError:
    """The refusal for a flow too big, or nested too deeply, for the check to read."""
    where = f"{display_path(error.path)}" + (f", line {error.line}" if error.line else "")
    return LoadError(
        f"{where}: {error.why}. The grader checks every line before it runs any, so it "
        "grades only code it can read through.",
        error_type="Grade refused",
        location=Location(display_path(error.path), error.line, "<module>", ""),
        refused=True,
    )


KIT_OWN = ("chatkit", "tests")
"""The kit's folders no target may be in: its runtime and its tests."""


def misplaced(target_folder: Path) -> LoadError | None:
    """A refusal for a target folder that is the kit's own: the kit's folder itself (or one
    holding it), or a folder of its runtime or tests. The learner's folder is left out of the
    kit's fingerprint and may be read by the phones, so it must hold only the learner's files.
    """
    root, folder = kit_root().resolve(), target_folder.resolve()
    if not (
        root.is_relative_to(folder) or any(folder.is_relative_to(root / own) for own in KIT_OWN)
    ):
        return None
    return LoadError(
        f"{display_path(folder)} is the kit's own folder, not one of yours: put your flow.py in "
        "a folder of its own (starter-code/ is one) and grade that.",
        error_type="Grade refused",
        refused=True,
    )


def kit_fingerprint(target_folder: Path) -> dict[str, str]:
    """A digest of every file of the kit, by path: the runtime, the scenarios, the reference,
    the kit's own tests, the settings (the target's folder left out: it is the learner's)."""
    root = kit_root()
    target = target_folder.resolve()

    def learners(relative: Path) -> bool:
        return (root / relative).resolve() == target

    return {
        relative.as_posix(): hashlib.sha256((root / relative).read_bytes()).hexdigest()
        for relative in kit_files(root, skip=learners)
    }


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
