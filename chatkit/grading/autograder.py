"""``chatkit gradescope OUT.zip``: the kit packed as a Gradescope autograder.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once (as root)
when it builds the image, then ``run_autograder`` for every submission, which must write
``/autograder/results/results.json``. Here ``setup.sh`` installs the kit's core in a
virtual environment, and ``run_autograder`` grades the learner's ``flow.py`` from
``/autograder/submission`` (`chatkit.grading.submissions` finds it) with the teacher's
scenarios, visible and hidden, packed in ``teacher/``.

The zip holds what grading needs and no more: the runtime, the scenarios, the grader and
the package's settings; never the reference solution or the kit's own tests. Its entries
carry a fixed date, so the same kit and scenarios always make the same zip.
"""

from __future__ import annotations

import shlex
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from chatkit.kit_home import kit_root

KIT_FILES = ("chatkit", "tests/scenarios", "grader.py", "pyproject.toml", "README.md", "LICENSE")
"""What ``pip install`` and the grader read (the package names its readme and licence)."""
SKIPPED = ("__pycache__", ".pyc", ".pyo")
TEACHER = "teacher"
"""Where the teacher's scenarios go in the zip: ``teacher/tests/N``, ``teacher/hidden/N``."""
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
EXECUTABLE = 0o100755 << 16
READABLE = 0o100644 << 16

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder: install the kit's core.
set -euo pipefail
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PYTHON=python3
    PACKAGES="python3-venv python3-pip"
else
    PYTHON=python3.11  # the kit needs 3.11 or later; Ubuntu 22.04 has it as a package
    PACKAGES="python3.11 python3.11-venv"
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES
"$PYTHON" -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
/autograder/venv/bin/python -m pip install --quiet -e /autograder/source
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade the learner's flow.py and write
# /autograder/results/results.json (the grader writes it even when the code cannot load).
set -uo pipefail
cd /autograder/source
PYTHON=/autograder/venv/bin/python
target=$("$PYTHON" -m chatkit.grading.submissions /autograder/submission)
"$PYTHON" grader.py --target "$target" --quiet \\
    --gradescope /autograder/results/results.json{scenarios}
status=$?
# 0 and 1 are a grade (all passed, some failed) and 2 a flow that could not be graded:
# results.json says which. Anything else is the grader's own failure, for staff to see.
[ "$status" -le 2 ] || exit "$status"
"""


def run_script(tests: Sequence[str], hidden: Sequence[str]) -> str:
    """``run_autograder``, grading with the packed scenarios (the kit's, when none given)."""
    options = [f"--tests {shlex.quote(path)}" for path in tests]
    options += [f"--hidden {shlex.quote(path)}" for path in hidden]
    return RUN.format(scenarios="".join(f" \\\n    {option}" for option in options))


def build_autograder(
    out: Path, *, tests: Sequence[Path] = (), hidden: Sequence[Path] = ()
) -> list[str]:
    """Write the autograder zip to ``out`` and return the names it holds."""
    packed_tests = [f"{TEACHER}/tests/{number}" for number in range(1, len(tests) + 1)]
    packed_hidden = [f"{TEACHER}/hidden/{number}" for number in range(1, len(hidden) + 1)]
    entries: list[tuple[str, bytes, int]] = [
        ("setup.sh", SETUP.encode(), EXECUTABLE),
        ("run_autograder", run_script(packed_tests, packed_hidden).encode(), EXECUTABLE),
    ]
    root = kit_root()
    for part in KIT_FILES:
        entries += [(name, data, READABLE) for name, data in _files(root / part, part)]
    for source, packed in (
        *zip(tests, packed_tests, strict=True),
        *zip(hidden, packed_hidden, strict=True),
    ):
        inside = f"{packed}/{source.name}" if source.is_file() else packed  # a file keeps its name
        entries += [(name, data, READABLE) for name, data in _files(source, inside)]
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = mode
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return [name for name, _, _ in entries]


def _files(path: Path, packed: str) -> Iterator[tuple[str, bytes]]:
    """``(name in the zip, content)`` for a file, or every file under a folder, in order."""
    if path.is_file():
        yield packed, path.read_bytes()
        return
    for file in sorted(path.rglob("*")):
        if file.is_file() and not any(skip in file.as_posix() for skip in SKIPPED):
            yield f"{packed}/{file.relative_to(path).as_posix()}", file.read_bytes()
