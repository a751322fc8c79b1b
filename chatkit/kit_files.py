"""Which files make up a copy of the kit: what is copied for learners and fingerprinted
while a flow is graded.

Everything in the kit's folder counts, except what is never part of a kit wherever it
lies: version control, virtual environments, caches, databases a live server left, a
learner's hint progress.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from pathlib import Path

NEVER_PART_OF_A_KIT = (
    ".git",
    ".venv",
    ".ci-tools",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "*.egg-info",
    "build",
    ".chatkit-hints.json",
    "*.sqlite3*",
    "*.db",
    "*.db-wal",
    "*.db-shm",
    "*.serving",
)
"""Names that are never part of a kit, wherever they are: environments, caches, databases."""


def kit_files(root: Path, skip: Callable[[Path], bool] = lambda _: False) -> Iterator[Path]:
    """Every file of the kit at ``root``, relative to it, in a stable order; folders and files
    for which ``skip(relative path)`` is true are left out, and links are never followed."""
    for folder, subfolders, files in os.walk(root):
        here = Path(folder).relative_to(root)
        subfolders[:] = sorted(name for name in subfolders if not _excluded(here / name, skip))
        for name in sorted(files):
            relative = here / name
            if not _excluded(relative, skip) and not (root / relative).is_symlink():
                yield relative


def _excluded(relative: Path, skip: Callable[[Path], bool]) -> bool:
    if any(fnmatch.fnmatch(relative.name, name) for name in NEVER_PART_OF_A_KIT):
        return True
    return skip(relative)
