"""What the kit's own tests share: one grading of every known-wrong flow per test run,
and a way to load a module of a test's own where the hang watch looks.

Several test modules read the same grading (which family caught the mistake, the
diagram of its races, its HTML page, the subtle flows' timelines). All the known-wrong
flows are graded as one class, by the class grader (`chatkit.grading.class_grading`, one
grading per core), when a test first asks for one; every test after reads those reports.
Under ``pytest -n auto`` the workers share that one run: the first to ask grades the
class and saves each report, the others wait for it and read the files.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from mistakes import CLASS_TIMEOUT, MISTAKES, write_all

from chatkit.grading.class_grading import grade_class
from chatkit.grading.results import GradeReport
from chatkit.grading.saved import load_report, save_report
from chatkit.grading.submissions import Submission

CLASS_FOLDER = "known-wrong-class"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reads `graded_mistake` may be the one that waits while the class is
    graded (on its worker, or on another that holds the lock): it gets the class's time."""
    for item in items:
        if "graded_mistake" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(CLASS_TIMEOUT), append=False)


@pytest.fixture(scope="session")
def graded_mistake(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], GradeReport]:
    """The grade of the flow `mistakes.MISTAKES` names; all of them graded once per run.

    Tests only read a report, never change it, so one report serves them all.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER") and sys.platform != "win32":
        shared = shared.parent  # the run's folder, above each worker's own
    reports = graded_once(shared / CLASS_FOLDER)
    return reports.__getitem__


def graded_once(folder: Path) -> dict[str, GradeReport]:
    """Every known-wrong flow's report: graded here, or read from the worker that did."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _one_worker_at_a_time(folder.with_suffix(".lock")):
        if not (folder / "graded").exists():
            flows = write_all(folder / "flows")
            submissions = [
                Submission(name, flow.parent, flow.parent) for name, flow in flows.items()
            ]
            for graded in grade_class(submissions):
                save_report(graded.report, folder / f"{graded.learner}.json")
            (folder / "graded").touch()
    return {name: load_report(folder / f"{name}.json") for name in MISTAKES}


@contextlib.contextmanager
def _one_worker_at_a_time(lock: Path) -> Iterator[None]:
    """Hold ``lock`` against the other workers (on Windows, which has no flock, each
    worker grades the class in a folder of its own)."""
    with lock.open("w") as file:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes
        yield


@pytest.fixture
def watched_module(tmp_path: Path) -> Callable[[str], ModuleType]:
    """Load a source as ``tmp_path/flow.py``, so its frames are in the folder that
    ``HangWatch(tmp_path)`` watches: a plain import, without the sandbox that
    `chatkit.target.load_flow` puts a learner's flow behind."""

    def load(source: str) -> ModuleType:
        path = tmp_path.resolve() / "flow.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("watched_flow", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
