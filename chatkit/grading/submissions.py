"""Where a learner's ``flow.py`` is in what they handed in.

A submission is a folder: the learner's ``flow.py`` (with any helper modules beside it),
or their whole copy of the kit, where it is ``starter-code/flow.py``. Gradescope puts
one at ``/autograder/submission``, exercism at its input folder, and a teacher collects
a class as one folder per learner. All three find the file the same way.

``python -m chatkit.grading.submissions FOLDER`` prints the target to grade, for the
shell scripts of the Gradescope autograder and the exercism test runner.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from chatkit.target import FLOW_FILE

KIT_COPY_FLOW = Path("starter-code") / FLOW_FILE
"""Where a learner's whole copy of the kit keeps their flow."""
NOT_THE_LEARNERS = frozenset({"solution", "tests", ".venv", "venv", "__pycache__", ".git"})
"""Folders of a kit copy whose ``flow.py`` is not the learner's (the reference, a test's)."""


@dataclass(frozen=True, slots=True)
class Submission:
    """One learner's folder in a class, and the target in it to grade."""

    learner: str
    """The folder's name: how the class's reports name the learner."""
    folder: Path
    target: Path
    """The ``flow.py`` to grade; when none was found, the folder itself (the grader then
    says that it holds no flow)."""


def flow_in(folder: Path) -> Path | None:
    """The learner's ``flow.py`` in ``folder``: at its top, in ``starter-code/``, or the one
    ``flow.py`` anywhere below it outside the kit's own folders; else ``None``."""
    for candidate in (folder / FLOW_FILE, folder / KIT_COPY_FLOW):
        if candidate.is_file():
            return candidate
    found = [
        path
        for path in sorted(folder.rglob(FLOW_FILE))
        if path.is_file() and not NOT_THE_LEARNERS.intersection(path.relative_to(folder).parts)
    ]
    return found[0] if len(found) == 1 else None


def target_in(folder: Path) -> Path:
    """What to grade for ``folder``: its learner's ``flow.py``, else the folder itself."""
    return flow_in(folder) or folder


def class_submissions(root: Path) -> list[Submission]:
    """Every learner's submission in ``root``: one per folder, by name."""
    return [
        Submission(folder.name, folder, target_in(folder))
        for folder in sorted(root.iterdir(), key=lambda path: path.name)
        if folder.is_dir() and not folder.name.startswith((".", "__"))
    ]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python -m {__spec__.name if __spec__ else 'submissions'} FOLDER")
    print(target_in(Path(sys.argv[1])))
