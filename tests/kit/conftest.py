"""What the kit's own tests share: one grading of each known-wrong flow per test run.

Several test modules read the same grading (which family caught the mistake, the
diagram of its races, its HTML page); grading a flow takes seconds, so each is graded
once, when a test first asks for it, and every test after reads that report.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

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
