"""The grader's pytest plugin, loaded in the child process that runs the learner's code.

It turns each scenario's outcome into a `TestResult` and sends it, one JSON line at
a time, over the results channel the parent named (``CHATKIT_RESULTS``). Sending as it
goes means the parent keeps every finished result even if it has to kill this process.
"""

from __future__ import annotations

import contextlib
import inspect
import linecache
import os
import socket
from collections.abc import Generator
from pathlib import Path

import pytest

from chatkit.grading.results import (
    FAMILY_FILTER,
    ChildMessage,
    Collected,
    Finished,
    Location,
    Outcome,
    Planned,
    Started,
    TestResult,
    encode,
)
from chatkit.grading.runner import RESULTS_CHANNEL, join_results_channel
from chatkit.hang_watch import StuckInLearnerCode
from chatkit.harness import Scenario
from chatkit.limits import MEMORY_LIMIT
from chatkit.rules import Rule, RuleBroken
from chatkit.sandbox.world import OutputFlood
from chatkit.story import Step
from chatkit.target import FUNCTIONS, display_path
from chatkit.testing import LearnerRaised, ScenarioTimedOut, budget_of

_channel: socket.socket | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Join the parent's results channel; its address leaves the environment at once."""
    global _channel
    address = os.environ.pop(RESULTS_CHANNEL, None)
    if address is not None:
        _channel = join_results_channel(address)


def _emit(message: ChildMessage) -> None:
    if _channel is not None:
        _channel.sendall((encode(message) + "\n").encode())


def family_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("family")
    return str(marker.args[0]) if marker else "other"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = {name for name in os.environ.get(FAMILY_FILTER, "").split(",") if name}
    if wanted:
        kept = [item for item in items if family_of(item) in wanted]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    """Tell the parent which scenarios will run, once every filter has been applied."""
    planned = [
        Planned(item.nodeid, item.name, family_of(item), budget_of(item)) for item in session.items
    ]
    _emit(Collected(planned))


def pytest_runtest_logstart(nodeid: str) -> None:
    _emit(Started(nodeid))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" or (report.when == "setup" and not report.passed):
        result = _result(item, call, report)
        _emit(Finished(result))
    return report


def _result(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> TestResult:
    function = getattr(item, "function", None)
    result = TestResult(
        nodeid=item.nodeid,
        name=item.name,
        family=family_of(item),
        outcome=Outcome.PASSED,
        about=" ".join((getattr(function, "__doc__", None) or "").split()),
        duration=report.duration,
        note=", ".join(_measured(name, value) for name, value in item.user_properties),
    )
    with contextlib.suppress(OSError, TypeError):
        result.source = inspect.getsource(function) if function else None
    result.story = _story_of(item)
    kit = getattr(item, "funcargs", {}).get("kit")
    if isinstance(kit, Scenario):
        result.output, result.output_dropped = kit.world.output.text(), kit.world.output.dropped
    if report.passed or call.excinfo is None:
        return result
    _explain(result, call.excinfo, _target_dir(item))
    if result.story and result.rule:
        result.story[-1].broke = result.rule  # every rule is checked after every step
    return result


def _measured(name: str, value: object) -> str:
    return f"{value:,} {name}" if isinstance(value, int) else f"{name}: {value}"


def _story_of(item: pytest.Item) -> list[Step]:
    """The story a scenario told: its ``kit``'s, or any fixture's with a list of `Step`."""
    for value in getattr(item, "funcargs", {}).values():
        story = getattr(value, "story", None)
        if isinstance(value, Scenario) or (
            isinstance(story, list) and all(isinstance(step, Step) for step in story)
        ):
            return list(story or [])
    return []


def _target_dir(item: pytest.Item) -> Path:
    from chatkit.target import resolve_target

    return resolve_target(item.config.getoption("--target")).parent


def _explain(
    result: TestResult, excinfo: pytest.ExceptionInfo[BaseException], target: Path
) -> None:
    error = excinfo.value
    result.error_type = type(error).__name__
    result.message = str(error)
    result.location = _learner_frame(excinfo, target)
    if isinstance(error, RuleBroken):
        result.rule, result.function = str(error.rule), error.rule.function
        result.message, result.expected, result.actual = error.detail, error.expected, error.actual
        result.outcome = Outcome.TIMED_OUT if error.rule is Rule.FINISHES else Outcome.FAILED
        result.location = None
        blame = error.blame
        if blame is not None:
            result.function = blame.function
            result.location = Location(
                display_path(Path(blame.file)), blame.line, blame.inner, blame.code
            )
    elif isinstance(error, StuckInLearnerCode):
        result.outcome = Outcome.TIMED_OUT
        result.function = _flow_function(excinfo, target)
    elif isinstance(error, ScenarioTimedOut) or (
        excinfo.typename == "Failed" and str(error).startswith("Timeout")
    ):
        result.outcome = Outcome.TIMED_OUT
        result.message = "the scenario did not finish in time: something waits or loops forever"
    elif isinstance(error, LearnerRaised):
        result.outcome, result.error_type = Outcome.CRASHED, error.kind
        result.function = _flow_function(excinfo, target) or result.function
    elif isinstance(error, MemoryError):
        result.outcome = Outcome.CRASHED
        result.message = (
            f"your code asked for more memory than a flow may use ({MEMORY_LIMIT // 2**30} GiB); "
            "is something growing without end?"
        )
        result.function = _flow_function(excinfo, target)
    elif isinstance(error, OutputFlood):
        result.outcome = Outcome.CRASHED
        result.function = _flow_function(excinfo, target)
    elif isinstance(error, NotImplementedError) and result.location is not None:
        result.outcome = Outcome.NOT_WRITTEN
        result.function = _flow_function(excinfo, target)
    elif isinstance(error, AssertionError):
        result.outcome = Outcome.FAILED
    else:
        result.outcome = Outcome.CRASHED
        if isinstance(error, SystemExit):
            result.message = f"your code called sys.exit({error.code!r})"
        if result.location is not None:
            result.function = _flow_function(excinfo, target)


def _flow_function(excinfo: pytest.ExceptionInfo[BaseException], target: Path) -> str | None:
    """Which of ``send``, ``reconcile`` and ``rollback`` the error came out of (innermost)."""
    for entry in reversed(excinfo.traceback):
        if entry.name in FUNCTIONS and Path(str(entry.path)).is_relative_to(target):
            return entry.name
    return None


def _learner_frame(excinfo: pytest.ExceptionInfo[BaseException], target: Path) -> Location | None:
    """The innermost frame of the traceback that is in the learner's folder."""
    for entry in reversed(excinfo.traceback):
        path = Path(str(entry.path))
        if path.is_relative_to(target):
            return Location(
                file=display_path(path),
                line=entry.lineno + 1,
                function=entry.name,
                # linecache, not pytest's entry.statement: that parses the file again, and
                # CPython 3.11's parser can fail there after deep or interrupted learner code
                code=linecache.getline(str(path), entry.lineno + 1).strip(),
            )
    return None
