"""The grader's pytest plugin, loaded in the child process that runs the learner's code.

It turns each scenario's outcome into a `TestResult` and sends it, one JSON line at
a time, over the results channel the parent named (``CHATKIT_RESULTS``). Sending as it
goes means the parent keeps every finished result even if it has to kill this process.
Which scenario to run next it asks the parent on the same channel: two children side
by side take them from one list.

Once the scenarios are collected, the process confines itself (`chatkit.sandbox.confine`)
before the first one loads the learner's flow.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import logging
import os
import socket
from collections.abc import Generator
from pathlib import Path
from typing import BinaryIO

import pytest

from chatkit.blame import Blame, blame_traceback
from chatkit.engine.harness import Scenario
from chatkit.engine.pytest_plugin import ScenarioTimedOut, budget_of
from chatkit.engine.remote import PhoneRaised
from chatkit.engine.rules import Rule, RuleBroken, StateShapeError
from chatkit.engine.story import Step
from chatkit.grading.pointer import keeping_function, likely_line
from chatkit.grading.results import (
    FAMILY_FILTER,
    HIDDEN_FOLDERS,
    ChildMessage,
    Collected,
    Finished,
    Location,
    Next,
    Outcome,
    Planned,
    Started,
    TestResult,
    encode,
    out_of_time,
)
from chatkit.grading.runner import RESULTS_CHANNEL, join_results_channel
from chatkit.limits import MEMORY_LIMIT
from chatkit.sandbox.confine import confine_if_asked
from chatkit.target import display_path

_channel: socket.socket | None = None
_answers: BinaryIO | None = None
"""The parent's answers on the channel, a line each."""


def pytest_configure(config: pytest.Config) -> None:
    """Join the parent's results channel; its address leaves the environment at once.

    asyncio's own log is silenced: a flow that raises in every send leaves thousands of
    tasks whose exception nobody retrieved, and asyncio formats a traceback for each as
    it is collected — seconds of a grading, for a log nobody reads (each scenario reports
    the learner's error itself).
    """
    global _channel, _answers
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    address = os.environ.pop(RESULTS_CHANNEL, None)
    if address is not None:
        _channel = join_results_channel(address)
        _answers = _channel.makefile("rb")


def _emit(message: ChildMessage) -> None:
    if _channel is not None:
        _channel.sendall((encode(message) + "\n").encode())


def family_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("family")
    return str(marker.args[0]) if marker else "other"


def hidden(item: pytest.Item) -> bool:
    """Whether the scenario is in one of the teacher's hidden files or folders."""
    folders = [Path(p).resolve() for p in os.environ.get(HIDDEN_FOLDERS, "").split(os.pathsep) if p]
    path = item.path.resolve()
    return any(path == folder or path.is_relative_to(folder) for folder in folders)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = {name for name in os.environ.get(FAMILY_FILTER, "").split(",") if name}
    if wanted:
        kept = [item for item in items if family_of(item) in wanted]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


_broken_files: list[str] = []
"""What went wrong in each scenario file that could not be collected."""

BROKEN_FILE_LINES = 15
"""How much of a broken scenario file's error is told: its last lines say where and what."""


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        lines = str(report.longrepr).strip().splitlines()
        _broken_files.append("\n".join(lines[-BROKEN_FILE_LINES:]))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Confine this process, then tell the parent which scenarios will run, once every
    filter has been applied, and which scenario files could not even be loaded.

    Collection imports only the kit's scenarios; the learner's flow is loaded at the
    first scenario, so from here on nothing runs free. The results channel, connected
    before, stays the way out.
    """
    scenarios = [Path(arg.split("::")[0]).resolve() for arg in session.config.args]
    confine_if_asked(_target_dir(session.config), scenarios)
    # What is alive now (pytest, the kit, the scenario modules) lives as long as the process:
    # the collector's full passes need not walk it again, scenario after scenario.
    gc.freeze()
    planned = [
        Planned(
            item.nodeid,
            item.name,
            family_of(item),
            budget_of(item),
            hidden(item),
            str(item.path),
        )
        for item in session.items
    ]
    _emit(Collected(planned, list(_broken_files)))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """Run the scenarios the parent hands out, one at a time, until it has none left.

    Each is asked for before the one in hand runs: pytest tears a scenario's fixtures
    down knowing which runs next. Without a parent (or when collection failed, or only
    collecting), pytest's own loop runs.
    """
    if _channel is None or session.testsfailed or session.config.option.collectonly:
        return None
    items = {item.nodeid: item for item in session.items}
    current = _next_item(items)
    while current is not None:
        following = _next_item(items)
        current.config.hook.pytest_runtest_protocol(item=current, nextitem=following)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        current = following
    return True


def _next_item(items: dict[str, pytest.Item]) -> pytest.Item | None:
    """The scenario the parent hands out next; None when none is left (or it hung up)."""
    _emit(Next())
    assert _answers is not None
    answer = _answers.readline()
    nodeid = json.loads(answer) if answer else None
    if nodeid is None:
        return None
    if nodeid not in items:
        raise pytest.UsageError(f"the grader handed out {nodeid!r}, which was not collected")
    return items[nodeid]


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
        hidden=hidden(item),
    )
    with contextlib.suppress(OSError, TypeError):
        result.source = inspect.getsource(function) if function else None
    result.story = _story_of(item)
    kit = getattr(item, "funcargs", {}).get("kit")
    if isinstance(kit, Scenario):
        result.output, result.output_dropped = kit.world.output.text(), kit.world.output.dropped
    if report.passed or call.excinfo is None:
        return result
    _explain(result, call.excinfo, _target_file(item.config))
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


def _target_file(config: pytest.Config) -> Path:
    """The learner's ``flow.py`` (or the file the target names)."""
    from chatkit.target import resolve_target

    return resolve_target(config.getoption("--target"))


def _target_dir(config: pytest.Config) -> Path:
    return _target_file(config).parent


def _explain(
    result: TestResult, excinfo: pytest.ExceptionInfo[BaseException], target: Path
) -> None:
    error = excinfo.value
    result.error_type = type(error).__name__
    result.message = str(error)
    result.outcome = Outcome.CRASHED
    _point_at(result, _where(excinfo, target.parent))
    if isinstance(error, PhoneRaised):
        _explain_phone(result, error)
    elif isinstance(error, StateShapeError):
        _point_at(result, error.blame)
    elif isinstance(error, RuleBroken):
        result.rule = str(error.rule)
        result.message, result.expected, result.actual = error.detail, error.expected, error.actual
        stuck = error.rule is Rule.FINISHES and not error.returned
        result.outcome = Outcome.TIMED_OUT if stuck else Outcome.FAILED  # not done, or too soon
        result.location, result.function = None, None
        _point_at(result, error.blame)
        result.function = result.function or error.function or error.rule.function
        if result.location is None and error.rule is Rule.BOOKKEEPING:  # where it keeps
            result.function = keeping_function(target, error.detail) or result.function
        if result.location is None:  # nothing of the learner's changed it: read the function
            result.location = likely_line(
                target, result.function, error.rule, error.detail, at_return=error.returned
            )
    elif isinstance(error, ScenarioTimedOut) or (
        excinfo.typename == "Failed" and str(error).startswith("Timeout")
    ):
        result.outcome = Outcome.TIMED_OUT
        result.message = out_of_time(
            result.family, "the scenario did not finish in time: something waits or loops forever"
        )
    elif isinstance(error, MemoryError):
        result.message = (
            f"your code asked for more memory than a flow may use ({MEMORY_LIMIT // 2**30} GiB); "
            "is something growing without end?"
        )
    elif isinstance(error, NotImplementedError) and result.location is not None:
        result.outcome = Outcome.NOT_WRITTEN
    elif isinstance(error, AssertionError):
        result.outcome = Outcome.FAILED
    elif isinstance(error, SystemExit):
        result.message = f"your code called sys.exit({error.code!r})"


def _explain_phone(result: TestResult, error: PhoneRaised) -> None:
    """What the learner's code raised on its phone, as the phone told it."""
    result.error_type = error.kind
    result.message = error.detail
    _point_at(result, error.blame)
    if error.kind == "StuckInLearnerCode":
        result.outcome = Outcome.TIMED_OUT
    elif error.kind == "SystemExit":
        result.message = f"your code called sys.exit({error.code})"
    elif error.kind == "KeyboardInterrupt":
        result.message = "your code raised KeyboardInterrupt" + (
            f": {error.detail}" if error.detail else ""
        )
    elif error.kind == "MemoryError":
        result.message = (
            f"your code asked for more memory than a flow may use ({MEMORY_LIMIT // 2**30} GiB); "
            "is something growing without end?"
        )
    elif error.not_written and result.location is not None:
        result.outcome = Outcome.NOT_WRITTEN


def _point_at(result: TestResult, where: Blame | None) -> None:
    """Point the result at the learner's line, and at the flow function around it."""
    if where is not None:
        result.location = Location(display_path(where.file), where.line, where.inner, where.code)
        result.function = where.function


def _where(excinfo: pytest.ExceptionInfo[BaseException], target: Path) -> Blame | None:
    """Where in the learner's code the error was raised (see `chatkit.blame`)."""
    return blame_traceback(excinfo.tb, str(target.resolve()))
