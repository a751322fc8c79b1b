"""Where the kit is: the copy of it a command works in, found from the current folder.

Low in the kit on purpose: the grader, the phones' confinement and the classroom copy all
ask it, and it asks nothing of them.
"""

from __future__ import annotations

from pathlib import Path


class TargetError(Exception):
    """The target cannot be found or does not have the expected shape."""


KIT_MARKERS = ("grader.py", "tests/scenarios")
"""What every copy of the kit has, the learner's too: how a folder is known as one."""


PACKAGE_HOME = Path(__file__).resolve().parent.parent
"""The folder that holds the ``chatkit`` package: the kit itself for an editable install."""


class NotInKit(TargetError):
    """The command was run outside a copy of the kit, and the package is not inside one."""


def is_kit(folder: Path) -> bool:
    """Whether ``folder`` is a copy of the kit (the original, or a learner's copy)."""
    return all((folder / marker).exists() for marker in KIT_MARKERS)


def kit_root() -> Path:
    """The copy of the kit to work in: ``starter-code/``, ``tests/``, ``hints.md``.

    The current folder or the nearest one above it that is a kit, so a learner's copy
    is graded in place whatever the package was installed from; else the folder the
    package lives in, when that is a kit (an editable install run from elsewhere).
    A plain ``pip install .`` puts the package in site-packages, away from any kit:
    then only the current folder can tell, and outside a kit `NotInKit` says what to do.
    """
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if is_kit(folder):
            return folder
    if is_kit(PACKAGE_HOME):
        return PACKAGE_HOME
    raise NotInKit(
        "this command works inside a copy of the kit (the folder with grader.py, "
        "starter-code/ and tests/): cd into it and run the command again"
    )
