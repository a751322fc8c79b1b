"""The pytest plugin behind the graded scenarios.

It adds ``--target``, starts the target's phones' template once (`chatkit.phone`),
gives each scenario a fresh `Scenario` as the ``kit`` fixture, runs ``async def``
scenarios on their own event loop with a time budget, and, when one fails, prints its
story. The learner's code never runs in this process: only on the phones.

Scenario modules declare their family with ``pytestmark = pytest.mark.family("…")``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from asyncio.log import logger as asyncio_logger
from collections.abc import Generator
from typing import Any

import freezegun
import pytest

from chatkit.engine.harness import Scenario
from chatkit.engine.story import told
from chatkit.limits import HARD_LIMIT_GRACE, SCENARIO_BUDGET_SECONDS
from chatkit.phone.link import PhoneTemplate
from chatkit.sandbox import ScriptedWorld
from chatkit.target import resolve_target


class ScenarioTimedOut(BaseException):
    """A scenario used up its budget: something in it waits or loops forever.

    A `BaseException`, so a learner's ``except Exception`` cannot swallow it.
    """

    def __init__(self, budget: float) -> None:
        super().__init__(f"the scenario did not finish within {budget:g} s")
        self.budget = budget


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--target",
        default="solution",
        help="the flow to test: starter, solution, or a folder or file (default: solution)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "family(name): the scenario family a test belongs to")
    config.addinivalue_line("markers", "budget(seconds): the event-loop time a scenario may use")
    # A scenario's ``freeze_time`` moves the flow's clock, not the event loop's: its
    # ``tick(60)`` must not spend the scenario's time budget.
    freezegun.configure(extend_ignore_list=["asyncio.base_events"])


def budget_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("budget")
    return float(marker.args[0]) if marker else SCENARIO_BUDGET_SECONDS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each scenario a hard time limit just above its budget."""
    for item in items:
        if item.get_closest_marker("family") and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(budget_of(item) + HARD_LIMIT_GRACE))


_TEMPLATE = pytest.StashKey[PhoneTemplate]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the phones' template before anything can confine this process (a confined
    process starts no other): every scenario's phones are forked from it."""
    if any(is_scenario(item) for item in session.items if isinstance(item, pytest.Function)):
        phones(session.config)


def phones(config: pytest.Config) -> PhoneTemplate:
    """The warm template of the target's phones, started once per run."""
    template = config.stash.get(_TEMPLATE, None)
    if template is None:
        template = config.stash[_TEMPLATE] = PhoneTemplate(
            resolve_target(config.getoption("--target"))
        )
    return template


def pytest_unconfigure(config: pytest.Config) -> None:
    template = config.stash.get(_TEMPLATE, None)
    if template is not None:
        template.close()


@pytest.fixture
def kit(request: pytest.FixtureRequest) -> Generator[Scenario, None, None]:
    """A fresh scripted server, clock and phones for one scenario.

    The world is named after the scenario, so its chance is the same on every run.
    """
    scenario = Scenario(phones(request.config), ScriptedWorld(request.node.nodeid))
    try:
        yield scenario
    finally:
        scenario.close()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` scenario on a new event loop, bounded by its budget."""
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function) or not is_scenario(pyfuncitem):
        return None  # the kit's own async tests run under anyio's plugin (`pytest.mark.anyio`)
    budget = budget_of(pyfuncitem)
    names = inspect.signature(function).parameters
    arguments = {name: pyfuncitem.funcargs[name] for name in names}

    async def bounded() -> None:
        kit = arguments.get("kit")
        asyncio.get_running_loop().set_exception_handler(_report_if_logged)
        try:
            async with asyncio.timeout(budget):
                await function(**arguments)
                if isinstance(kit, Scenario):
                    await kit.finish()
        except TimeoutError:
            raise ScenarioTimedOut(budget) from None

    asyncio.run(bounded())
    return True


def _report_if_logged(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's default exception handler, skipped when asyncio's log is silenced.

    The default handler formats its report (the task's ``repr``, the traceback) before
    the logger drops it: with thousands of failed tasks of a flow that raises in every
    send, a good part of a grading went to reports nobody sees (the grader silences the
    log, `chatkit.grading.plugin`).
    """
    if asyncio_logger.isEnabledFor(logging.ERROR):
        loop.default_exception_handler(context)


def is_scenario(item: pytest.Function) -> bool:
    """A graded scenario (it has a family, or drives the target through ``kit``/``flow``),
    as opposed to one of the kit's own async tests."""
    uses_target = "kit" in item.fixturenames
    return bool(uses_target) or item.get_closest_marker("family") is not None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the scenario's story to a failing report, for plain pytest runs."""
    report = yield
    kit = getattr(item, "funcargs", {}).get("kit")
    if report.failed and isinstance(kit, Scenario) and kit.story:
        report.sections.append(("what happened", "\n".join(told(kit.story))))
    return report
