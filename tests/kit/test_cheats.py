"""No flow can fake its grade: each way of trying earns nothing or is refused, saying why.

Learner code runs in the same process as the checks. A flow that reached the kit's
internals, the environment, the file system or the reference solution could report
a score it did not earn, so the grader refuses it before it runs (the static check,
with the line) and the import gate keeps to the same list while it runs. What slips
past both — look-alike state, a patched kit class — still earns no passing scenario.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from mistakes import MISTAKES, flow_source

from chatkit.grading.exports import exercism
from chatkit.grading.results import Outcome
from chatkit.grading.runner import grade
from chatkit.grading.trust import kit_fingerprint, tampered
from chatkit.kit_home import kit_root
from chatkit.sandbox.device import FlowCode
from chatkit.sandbox.world import LIVE, ScriptedWorld

pytestmark = pytest.mark.timeout(60)
"""Each test grades a flow through the real grader: seconds, more on a busy machine."""

STUBS = """

async def send(state, server, chat_id, body, *, client_id=None):
    raise NotImplementedError


def reconcile(state, incoming):
    raise NotImplementedError


def rollback(state, client_id, reason):
    raise NotImplementedError
"""

REFUSED: dict[str, tuple[str, int, str]] = {
    "wraps the child's result reporting": (
        "from chatkit.grading import plugin\n\nplugin._emit = print\n",
        1,
        "the kit's inside",
    ),
    "reads the grader's environment": (
        'import os\n\nSCALE = "scale" in os.environ.get("PYTEST_CURRENT_TEST", "")\n',
        1,
        "may not import `os`",
    ),
    "loads the reference through the kit's loader": (
        'from chatkit.target import load_flow, resolve_target\n\nREF = load_flow(resolve_target("solution"))\n',
        1,
        "the kit's inside",
    ),
    "writes into the kit's files": (
        'from pathlib import Path\n\nPath("solution/flow.py").write_text("")\n',
        1,
        "may not import `pathlib`",
    ),
    "opens a file": ('open("tests/scenarios/test_scale.py", "w").close()\n', 1, "`open`"),
    "imports by name at run time": ('OS = __import__("os")\n', 1, "`__import__`"),
    "reaches a module by string": (
        'import chatkit\n\nGRADING = getattr(chatkit, "grading")\n',
        3,
        "`grading` is not one of chatkit's public names",
    ),
    "reaches an attribute by a name made at run time": (
        'NAME = "_".join(["", "dict"])\nSTATE = getattr(object(), NAME)\n',
        2,
        "`getattr` with a name made at run time",
    ),
    "reaches a private attribute by a name written in place": (
        'from chatkit import ChatState\n\nINDEX = getattr(ChatState("x"), "_index", None)\n',
        3,
        "is private to the kit",
    ),
    "walks from an allowed module to os": (
        "import uuid\n\nENV = uuid.os.environ\n",
        3,
        "`uuid.os`",
    ),
    "walks the frames": (
        "def probe():\n    yield\n\n\nCALLER = probe().gi_frame.f_back\n",
        5,
        "reaches the code around your flow",
    ),
    "reads dunders through a format string": (
        'SECRET = "{0.__class__}".format(object())\n',
        1,
        "names Python's internals",
    ),
    "patches a kit class": (
        "from chatkit import Message\n\nMessage.describe = lambda self: \"'hi' sent #1\"\n",
        3,
        "may not change `Message`",
    ),
    "reaches the interpreter": (
        'import sys\n\nsys.modules.pop("chatkit.engine.rules")\n',
        1,
        "`sys`",
    ),
    "builds a format string at run time": (
        'FIELD = "{0." + "_" * 2 + "self" + "_" * 2 + "}"\n\n\ndef peek(server):\n'
        "    return FIELD.format(server.send)\n",
        5,
        "f-string",
    ),
    "reads a task's context": (
        "import asyncio\n\n\nasync def peek():\n"
        "    return asyncio.create_task(asyncio.sleep(0)).get_context()\n",
        5,
        "reaches the code around your flow",
    ),
    "captures a dunder in a match pattern": (
        "from chatkit import check_body\n\nmatch check_body:\n"
        "    case object(__globals__=found):\n        pass\n",
        4,
        "Python's internals",
    ),
    "captures a private attribute in a match pattern": (
        "def peek(server):\n    match server:\n        case object(_plan=found):\n"
        "            return found\n",
        3,
        "private to the kit or Python",
    ),
    "uses a dunder of an object it is given": (
        "def grab(server):\n    return server.send.__self__\n",
        2,
        "Python's internals",
    ),
    "reaches attributes by names written as text": (
        'import operator\n\nSTATUS = operator.attrgetter("status")\n',
        3,
        "`operator.attrgetter` reaches attributes by names written as text",
    ),
    "asks for the loop the phone runs on": (
        "import asyncio\n\nLOOP = asyncio.get_running_loop\n",
        3,
        "`asyncio.get_running_loop` hands out the event loop the kit runs your phone on",
    ),
    "logs instead of printing": (
        "import logging\n",
        1,
        "a flow may not import `logging`: it writes to files and the terminal",
    ),
    "copies attributes by names made at run time": (
        "import functools\n\nfunctools.update_wrapper(print, print, assigned=(), updated=())\n",
        3,
        "`functools.update_wrapper` copies attributes by names chosen as it runs",
    ),
    "reads the attributes a class names, in a match pattern": (
        "from chatkit import check_body\n\n\nclass Peek:\n    pass\n\n\n"
        "match check_body:\n    case Peek(found):\n        pass\n",
        9,
        "name each one",
    ),
    "keeps state in the context every thread shares": (
        "import decimal\n\ndecimal.getcontext().prec = 5\n",
        3,
        "may not use `decimal.getcontext`",
    ),
    "decides what isinstance answers, which Python caches": (
        "import abc\n\n\nclass Probe(abc.ABC):\n    @classmethod\n"
        "    def __subclasshook__(cls, other):\n        return True\n",
        6,
        "`__subclasshook__` decides what isinstance answers",
    ),
    "runs a demo in a __main__ block": (
        'import asyncio\n\nif __name__ == "__main__":\n    asyncio.run(None)\n',
        4,
        'an `if __name__ == "__main__":` block, which is checked like the rest',
    ),
    "counts what every program in the process registered": (
        "import abc\n\nTOKEN = abc.get_cache_token()\n",
        3,
        "`abc.get_cache_token` counts the classes every program in the process has registered",
    ),
    "writes names into a module of the phone's, through an enum": (
        'import enum\n\nBench = enum.Enum("Bench", [("ScaleBench", 1)], module="chatkit.phone.runtime")\n'
        "enum.global_enum(Bench)\n",
        4,
        "may not use `enum.global_enum`",
    ),
    "changes what Python's own classes answer, by registering with them": (
        "from collections.abc import Sized\n\n\nclass Box:\n    pass\n\n\nSized.register(Box)\n",
        8,
        "changes Python's own classes",
    ),
    "reads a registry every program in the process shares": (
        "import typing\n\nSEEN = typing.get_overloads(print)\n",
        3,
        "may not use `typing.get_overloads`",
    ),
    "walks the frames through a format field": (
        'def probe():\n    yield\n\n\nCALLER = "{0.gi_frame.f_back}".format(probe())\n',
        5,
        "as a format field",
    ),
}
"""Each cheat: the code put before the stubs, the line it is refused at, and words of why."""


def write_flow(folder: Path, code: str, *, name: str = "flow.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(code)
    return path


@pytest.mark.parametrize("cheat", sorted(REFUSED))
def test_a_cheat_is_refused_with_its_line(cheat: str, tmp_path: Path) -> None:
    code, line, why = REFUSED[cheat]
    path = write_flow(tmp_path, code + STUBS)
    report = grade(str(path))
    error = report.load_error
    assert error is not None and error.refused, f"{cheat}: not refused"
    assert error.error_type == "Grade refused"
    assert error.location is not None and error.location.line == line
    assert why in error.message
    assert report.score == 0 and report.exit_code == 2 and not report.results
    document = exercism(report)
    assert document["status"] == "error" and document["refused"] is True


def test_a_dataclass_field_must_be_a_plain_name(tmp_path: Path) -> None:
    """Python writes a dataclass's field names into code it runs, so a name made at run
    time could be code: a flow's fields must be plain names (and plain ones still work)."""
    made = '"_" * 2 + "annotations" + "_" * 2'
    code = f"import dataclasses\n\nBox = dataclasses.dataclass(type('Box', (), {{{made}: {{'a=1': int}}}}))\n"
    with pytest.raises(TypeError, match="a dataclass field must be a plain name"):
        FlowCode(write_flow(tmp_path / "made", code + STUBS)).device()
    plain = (
        "from dataclasses import dataclass\n\n\n@dataclass(frozen=True)\nclass Box:\n    a: int\n"
    )
    flow = FlowCode(write_flow(tmp_path / "plain", plain + STUBS)).device()
    assert flow.Box(1).a == 1  # type: ignore[attr-defined]


def test_a_helper_module_is_checked_too(tmp_path: Path) -> None:
    """A helper module beside flow.py is the learner's code as much as flow.py."""
    write_flow(tmp_path, "import os\n", name="ids.py")
    write_flow(tmp_path, "import ids\n" + STUBS)
    error = grade(str(tmp_path)).load_error
    assert error is not None and error.refused
    assert error.location is not None and error.location.file.endswith("ids.py")


def solution_with(code: str, *, after: str = "\n\nasync def send(") -> str:
    """The reference solution with ``code`` put in just before ``after``."""
    source = (kit_root() / "solution" / "flow.py").read_text()
    assert source.count(after) == 1
    return source.replace(after, f"\n\n{code}{after}")


def test_a_patched_kit_class_fails_to_load(tmp_path: Path) -> None:
    """Past the static check (through another name), the kit's classes still refuse."""
    cheat = "Row = Message\nRow.describe = lambda self: \"'hi' sent #1\"\n"
    report = grade(str(write_flow(tmp_path, solution_with(cheat))))
    error = report.load_error
    assert error is not None and report.exit_code == 2
    assert "cannot be changed" in error.message


def test_look_alike_rows_earn_nothing(tmp_path: Path) -> None:
    """A list that shows the checks something other than what it holds is refused."""
    cheat = (
        "class Rows(list):\n"
        "    def __iter__(self):\n"
        "        return iter([row for row in list.copy(self) if row.status is Status.SENT])\n"
        "\n\n"
        "def disguise(state: ChatState, chat_id: str) -> None:\n"
        "    chat = state.chat(chat_id)\n"
        "    chat.rows = Rows(chat.rows)\n"
    )
    source = solution_with(cheat).replace(
        "    chat.in_flight.add(message.client_id)\n",
        "    chat.in_flight.add(message.client_id)\n    disguise(state, chat_id)\n",
    )
    report = grade(str(write_flow(tmp_path, source)))
    assert report.load_error is None
    for result in report.results:
        disguised = any(
            "pending" in line for step in result.story for line in step.timelines["you"]
        )
        if disguised:  # the flow swapped in its look-alike list when it showed a pending row
            assert result.outcome is not Outcome.PASSED, (
                f"{result.name} passed with look-alike rows"
            )
            assert "plain list" in result.message
    assert report.score < 30


def test_the_server_a_flow_is_given_says_nothing_of_the_grader(tmp_path: Path) -> None:
    """A flow that behaves only when it thinks nobody grades it cannot tell."""
    cheat = 'def graded(server: object) -> bool:\n    return "<chat server>" != repr(server)\n'
    source = solution_with(cheat).replace(
        "    check_body(body)\n",
        "    check_body(body)\n    if graded(server):\n        raise RuntimeError('graded')\n",
    )
    report = grade(str(write_flow(tmp_path, source)))
    assert report.score == 100


def test_changed_kit_files_refuse_the_grade() -> None:
    before = {"solution/flow.py": "a", "tests/scenarios/test_scale.py": "b"}
    after = {"solution/flow.py": "changed", "tests/scenarios/new.py": "c"}
    error = tampered(before, after)
    assert error is not None and error.refused
    for path in before.keys() | after.keys():
        if before.get(path) != after.get(path):
            assert path in error.message
    assert tampered(before, dict(before)) is None


def test_the_fingerprint_covers_the_kit_and_leaves_out_the_target() -> None:
    prints = kit_fingerprint(kit_root() / "solution")
    assert "chatkit/engine/rules.py" in prints and "chatkit/sandbox/policy.py" in prints
    assert "tests/scenarios/test_scale.py" in prints and "grader.py" in prints
    assert not any(path.startswith("solution/") for path in prints)
    assert "solution/flow.py" in kit_fingerprint(kit_root() / "starter-code")


WEAK_IDS = {
    "clock": ("", "client_id or datetime.now(UTC).isoformat()"),
    "dice": ("import random\n", "client_id or str(random.randint(1, 99999))"),
    "address": ("", "client_id or str(hash(object()) % 99991)"),
}
"""Ids from the clock, from random and from where an object sits in memory: each a weak id
that a real clock, real chance or a new layout would make grade differently from one run to
the next."""


WHERE_IDS_MATTER = ["normal flow", "concurrency", "duplicates"]
"""Families whose verdicts a weak id decides (the whole grading's sameness is measured by
``benchmarks/determinism.py``, twenty gradings of each flow; the explorer's, by
``test_timelines.py``)."""


@pytest.mark.parametrize("name", sorted(WEAK_IDS))
@pytest.mark.timeout(180)  # two gradings, on a machine CI may share
def test_the_same_code_gets_the_same_grade_every_time(name: str, tmp_path: Path) -> None:
    """The scripted clock and seeded chance make every run of the same code give the
    same results, byte for byte."""
    imports, weak_id = WEAK_IDS[name]
    source = solution_with(imports).replace("client_id or uuid.uuid4().hex", weak_id)
    path = write_flow(tmp_path / name, source)
    runs = {
        json.dumps(exercism(grade(str(path), families=WHERE_IDS_MATTER)), sort_keys=True)
        for _ in range(2)
    }
    assert len(runs) == 1, f"{name}: two gradings differ"
    assert json.loads(runs.pop())["score"] < 100, f"{name}: a weak id scored 100"


def test_waiting_for_real_time_cannot_make_a_grade_depend_on_the_machine(tmp_path: Path) -> None:
    """A debounce before the send and a short time-out around it: in a scenario neither
    waits for the real clock (only the script says when the server answers, and when the
    time-out runs out), so the flow is graded the same on a fast machine and a slow one."""
    source = (
        solution_with("import asyncio\n")
        .replace(
            "        stored = await server.send(chat_id, message.client_id, body)\n",
            "        await asyncio.sleep(0.05)\n"
            "        stored = await asyncio.wait_for(server.send(chat_id, message.client_id, body), 1e-6)\n",
        )
        .replace(
            "    else:\n        reconcile(state, stored)\n",
            "    except TimeoutError:\n"
            "        rollback(state, message.client_id, 'no answer in time')\n"
            "    else:\n        reconcile(state, stored)\n",
        )
    )
    assert "except TimeoutError" in source
    report = grade(str(write_flow(tmp_path, source)))
    assert report.load_error is None and report.score == 100, report.load_error


LIMITED = {
    "wait_for": "async def limited(call):\n    return await asyncio.wait_for(call, LIMIT)\n",
    "timeout": (
        "async def limited(call):\n"
        "    async with asyncio.timeout(LIMIT):\n        return await call\n"
    ),
}


@pytest.mark.parametrize("how", LIMITED)
def test_a_time_out_of_no_time_at_all_runs_out_at_once_as_everywhere(
    how: str, tmp_path: Path
) -> None:
    """``timedelta(seconds=10).microseconds`` is 0, not ten million: a limit of no time at all
    runs out before any answer on every machine, so every send fails at once."""
    limit = "LIMIT = timedelta(seconds=10).microseconds / 1e6\n\n\n"
    limited = "limited(server.send(chat_id, message.client_id, body))"
    source = (
        solution_with("import asyncio\nfrom datetime import timedelta\n")
        .replace("\n\nasync def send(", f"\n\n{limit}{LIMITED[how]}\n\nasync def send(", 1)
        .replace(
            "        stored = await server.send(chat_id, message.client_id, body)\n",
            f"        stored = await {limited}\n",
        )
        .replace(
            "    else:\n        reconcile(state, stored)\n",
            "    except TimeoutError:\n"
            "        rollback(state, message.client_id, 'no answer in time')\n"
            "    else:\n        reconcile(state, stored)\n",
        )
    )
    report = grade(str(write_flow(tmp_path, source)), families=["normal flow"])
    assert report.load_error is None, report.load_error
    failed = [result for result in report.results if result.outcome is not Outcome.PASSED]
    assert len(failed) >= len(report.results) // 2


WORKER = """
PAUSES = asyncio.Queue()


async def pauser():
    while True:
        delay, done = await PAUSES.get()
        await asyncio.sleep(delay)
        done.set()


WORKER = asyncio.ensure_future(pauser())


async def pause(delay):
    done = asyncio.Event()
    PAUSES.put_nowait((delay, done))
    await done.wait()
"""


def test_a_wait_in_a_task_of_the_flows_own_keeps_the_user_from_news_too(tmp_path: Path) -> None:
    """The same fifth of a second, asked for by a task the flow started as it loaded, which
    the send waits on: outside the send, but the send's news waits all the same."""
    source = (
        solution_with("import asyncio\n")
        .replace("\n\nasync def send(", "\n" + WORKER + "\n\nasync def send(", 1)
        .replace(
            "    else:\n        reconcile(state, stored)\n",
            "    else:\n        await pause(0.2)\n        reconcile(state, stored)\n",
        )
    )
    report = grade(str(write_flow(tmp_path, source)), families=["normal flow"])
    failed = [result for result in report.results if result.outcome is not Outcome.PASSED]
    assert failed and all("after the server had answered" in r.message for r in failed)
    assert all(r.location is not None and "asyncio.sleep(delay)" in r.location.code for r in failed)


@pytest.mark.parametrize("delay", ["0.2", "Fraction(1, 5)", "True", "float('nan')"])
def test_a_wait_on_the_clock_once_the_server_answered_keeps_the_user_from_news(
    delay: str, tmp_path: Path
) -> None:
    """A fifth of a second, under the moment a send may wait in all, between the ack and
    showing it: the phone has the news and keeps it from the user (rule 7), wherever in
    the send the wait is asked for — and whatever kind of number it is asked for in, as
    asyncio waits for any of them."""
    imports = "import asyncio\nfrom fractions import Fraction\n"
    source = solution_with(imports).replace(
        "    else:\n        reconcile(state, stored)\n",
        f"    else:\n        await asyncio.sleep({delay})\n        reconcile(state, stored)\n",
    )
    report = grade(str(write_flow(tmp_path, source)), families=["normal flow"])
    failed = [result for result in report.results if result.outcome is not Outcome.PASSED]
    assert failed and all("after the server had answered" in r.message for r in failed)
    assert all(
        r.location is not None and f"asyncio.sleep({delay})" in r.location.code for r in failed
    )


# Two ways a flow could tell the all-timelines explorer from a scenario's phone, each
# turning a bug only the explorer catches off while it looks: every copy of the flow
# loads as a phone does (no loop running), and its tasks are numbered from the first.
EXPLORER_DETECTORS = {
    "a task started as the flow loads": (
        "async def _probe():\n    return None\n\n\n"
        "def _loop_running():\n    probe = _probe()\n    try:\n        asyncio.create_task(probe)\n"
        "    except RuntimeError:\n        probe.close()\n        return False\n"
        "    return True\n\n\nLOOP_RUNNING = _loop_running()\n\n\n"
        "def _explored():\n    return LOOP_RUNNING\n",
        "",
    ),
    "what the server it is handed prints as": (
        'SEEN = []\n\n\ndef _explored():\n    return any("Connection" in s for s in SEEN)\n',
        "    SEEN.append(repr(server.send))\n",
    ),
    "output that fills up over many copies": (
        "def _flooded():\n    try:\n        print('x' * 600_000)\n"
        "    except BaseException:\n        return True\n    return False\n\n\n"
        "FLOODED = _flooded()\n\n\ndef _explored():\n    return FLOODED\n",
        "",
    ),
    "a zone that says when it is printed": (
        "from datetime import time as _time, tzinfo as _tzinfo\n\nPRINTED = []\n\n\n"
        "class _Zone(_tzinfo):\n"
        "    def utcoffset(self, when):\n        return None\n\n"
        "    def __repr__(self):\n        PRINTED.append(1)\n        return 'zone'\n\n\n"
        "AT_MIDNIGHT = _time(0, tzinfo=_Zone())\n\n\n"
        "def _explored():\n    return bool(PRINTED)\n",
        "",
    ),
    "a lock that says when it is printed": (
        "PRINTED = []\n\n\n"
        "class _Lock(asyncio.Lock):\n"
        "    def __repr__(self):\n        PRINTED.append(1)\n        return 'lock'\n\n\n"
        "LOCK = _Lock()\n\n\n"
        "def _explored():\n    return bool(PRINTED)\n",
        "",
    ),
    "an alias typing kept for the process": (
        "def _copy_before():\n    import typing\n    from decimal import Decimal\n\n"
        '    if str(typing.get_args(typing.Literal[Decimal("1")])[0]) == "1.0":\n'
        "        return True\n    for number in range(400):\n        typing.Literal[number]\n"
        '    typing.Literal[Decimal("1.0")]\n    return False\n\n\n'
        "COPY_BEFORE = _copy_before()\n\n\n"
        "def _explored():\n    return COPY_BEFORE\n",
        "",
    ),
    "the number in a task's name": (
        "NUMBERS = []\n\n\ndef _explored():\n    return any(n > 50 for n in NUMBERS)\n",
        "    probe = asyncio.create_task(asyncio.sleep(0))\n"
        '    NUMBERS.append(int(probe.get_name().rpartition("-")[2]))\n'
        "    await probe\n",
    ),
}


@pytest.fixture(scope="module")
def sink_explored(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    """The outcomes of "all timelines" for a flow with a mistake only the explorer finds."""
    folder = tmp_path_factory.mktemp("sink")
    (folder / "flow.py").write_text(flow_source(MISTAKES["failed_rows_sink"]))
    report = grade(str(folder / "flow.py"), families=["all timelines"])
    assert report.load_error is None, report.load_error
    outcomes = [r.outcome for r in report.results]
    assert Outcome.FAILED in outcomes
    return outcomes


@pytest.mark.parametrize("detector", EXPLORER_DETECTORS)
def test_a_flow_cannot_tell_the_explorer_from_a_scenario(
    detector: str, tmp_path: Path, sink_explored: list[Outcome]
) -> None:
    """The same mistake, switched off when the flow believes it is explored, is found the
    same: nothing it can look at tells the explorer from a scenario."""
    sink = flow_source(MISTAKES["failed_rows_sink"])
    at_load, in_send = EXPLORER_DETECTORS[detector]
    hidden = (
        sink.replace("import uuid\n", "import asyncio\nimport uuid\n", 1)
        .replace("\n\nasync def send(", f"\n\n{at_load}\n\nasync def send(", 1)
        .replace(
            "    try:\n        stored = await", f"{in_send}    try:\n        stored = await", 1
        )
        .replace("        while place and", "        while not _explored() and place and", 1)
    )
    (tmp_path / "flow.py").write_text(hidden)
    report = grade(str(tmp_path / "flow.py"), families=["all timelines"])
    assert report.load_error is None, report.load_error
    assert [r.outcome for r in report.results] == sink_explored


LOOKS = """
import asyncio, datetime, random, secrets, time, uuid


async def looks():
    things = [
        datetime.datetime, datetime.date, time.time, time.monotonic, time.sleep,
        time.localtime, uuid.uuid4, uuid.uuid1, asyncio.sleep, asyncio.wait_for,
        asyncio.wait, asyncio.timeout, asyncio.timeout(1), random.random, random.Random,
        secrets.token_hex, secrets.randbelow, secrets.SystemRandom,
    ]
    return [(repr(thing), repr(type(thing)), repr(type(type(thing)))) for thing in things]
"""


def test_a_flow_finds_the_same_clock_and_chance_graded_and_live(tmp_path: Path) -> None:
    """What a flow can look at of its ``datetime``, ``time``, ``uuid``, ``asyncio``,
    ``random`` and ``secrets`` (their types, what they print as) is the same in a scenario
    and on the live side: a flow cannot behave one way only while it is graded."""
    (tmp_path / "flow.py").write_text(LOOKS)
    code = FlowCode(tmp_path / "flow.py")
    seen = []
    for world in (LIVE, ScriptedWorld("a scenario")):
        looked = asyncio.run(code.device(world).looks())  # type: ignore[attr-defined]
        seen.append(
            [tuple(re.sub(r" at 0x[0-9a-f]+", "", text) for text in each) for each in looked]
        )
    assert seen[0] == seen[1]
