"""``chatkit classroom OUT``: the copy of the kit a teacher hands to learners.

What no grader can prove is that the learner wrote the code, and with ``solution/``
beside them they need not. So the learner's copy is the kit without the reference
and without what exists only to test the kit against it (``tests/kit/``, the terminal
client's tests, the benchmarks, CI), with a README written for that copy: every part
of the kit's README between a line ``<!-- classroom: cut -->`` and a line
``<!-- classroom: end -->`` is left out. In the copy, ``pytest`` runs the tests that
pass without the reference (the live server's), and the grader grades the learner's
``starter-code/`` as usual.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterator
from pathlib import Path

from chatkit.kit_files import kit_files
from chatkit.kit_home import kit_root

LEFT_OUT = (
    "solution",
    "tests/kit",
    "tests/tui",
    "benchmarks",
    ".ci",
    "bin",
    "docs/maintainers.md",
    "docs/teachers.md",
    "docs/teacher-scenarios",
)
"""Paths (from the kit's folder) the learner's copy does without."""

CUT, END = "<!-- classroom: cut -->", "<!-- classroom: end -->"
COPY_TESTPATHS = 'testpaths = ["tests/live"]'
"""The copy's ``pytest`` runs the live server's tests: they need no reference solution."""


class CopyError(Exception):
    """The learner's copy cannot be written where it was asked for."""


def learner_readme(readme: str) -> str:
    """The kit's README without its parts for teachers and maintainers."""
    kept: list[str] = []
    cutting = False
    for line in readme.splitlines(keepends=True):
        marker = line.strip()
        if marker == CUT:
            cutting = True
        elif marker == END:
            cutting = False
        elif not cutting:
            kept.append(line)
    return "".join(kept)


def learner_pyproject(pyproject: str) -> str:
    """The kit's ``pyproject.toml`` with ``pytest`` pointed at the tests the copy keeps."""
    return pyproject.replace('testpaths = ["tests"]', COPY_TESTPATHS)


def files_to_copy(root: Path) -> Iterator[Path]:
    """Every file of the kit at ``root`` that the learner's copy keeps, relative to ``root``."""
    return kit_files(root, skip=_left_out)


def _left_out(relative: Path) -> bool:
    text = relative.as_posix()
    return any(text == gone or text.startswith(gone + "/") for gone in LEFT_OUT)


def write_learner_copy(out: Path, root: Path | None = None) -> int:
    """Write the learner's copy of the kit at ``root`` into ``out``; the number of files.

    ``out`` must not exist yet, or be an empty folder, so nothing is ever overwritten.
    """
    root = root or kit_root()
    out = out.resolve()
    if out == root or root in out.parents:
        raise CopyError(f"{out} is inside the kit; choose a folder outside it")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CopyError(f"{out} already exists and is not empty; choose a new folder")
    count = 0
    for relative in files_to_copy(root):
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.as_posix() == "README.md":
            text = learner_readme((root / relative).read_text(encoding="utf-8"))
            target.write_text(text, encoding="utf-8")
        elif relative.as_posix() == "pyproject.toml":
            text = learner_pyproject((root / relative).read_text(encoding="utf-8"))
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copy2(root / relative, target)
        count += 1
    return count


def add_classroom_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "classroom",
        help="write the learner's copy of the kit: no reference solution, no kit tests",
        description=(
            "Write the copy of this kit to hand to learners: everything they need to write "
            "and grade their flow, without solution/ and without the kit's own tests."
        ),
    )
    parser.add_argument("out", type=Path, help="a new (or empty) folder for the copy")
    parser.set_defaults(func=_classroom)


def _classroom(args: argparse.Namespace) -> int:
    try:
        count = write_learner_copy(args.out)
    except CopyError as error:
        print(f"chatkit classroom: {error}")
        return 2
    print(
        f"Wrote the learner's copy ({count} files) to {args.out}: no solution/, no kit tests. "
        f"Hand it out as it is; in it, `python grader.py` grades starter-code/."
    )
    return 0
