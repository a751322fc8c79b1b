"""What the kit's own tests share: one grading of each known-wrong flow per test run,
and a way to load a module of a test's own where the hang watch looks.

Several test modules read the same grading (which family caught the mistake, the
diagram of its races, its HTML page); grading a flow takes seconds, so each is graded
once, when a test first asks for it, and every test after reads that report.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from mistakes import MISTAKES, write_flow

from chatkit.grading.results import GradeReport
from chatkit.grading.runner import grade


@pytest.fixture(scope="session")
def graded_mistake(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], GradeReport]:
    """The grade of the flow `mistakes.MISTAKES` names, graded once for the whole run.

    Tests only read a report, never change it, so one report serves them all.
    """
    folder = tmp_path_factory.mktemp("mistakes")

    @functools.cache
    def graded(name: str) -> GradeReport:
        return grade(str(write_flow(MISTAKES[name], folder).parent))

    return graded


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
