"""The phones and the judge: the line between them holds whatever a phone says.

The judge reads a phone's reports as untrusted data. A screen that is not one, a row
number never written, an answer that is not a report: each ends that phone's turn with
a clear error and never reaches the checks as a screen. And where the system cannot
fork, phones are interpreters of their own, and a scenario runs the same.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from chatkit.client import ServerView
from chatkit.engine.harness import Scenario
from chatkit.engine.remote import PhoneMisbehaved, RemotePhone
from chatkit.model import DeliveryError, Message, ServerMessage
from chatkit.phone.frames import PhoneGone
from chatkit.phone.link import PhoneTemplate
from chatkit.phone.screen import ScreenError, ScreenReader, ScreenWriter, Unplain
from chatkit.sandbox import ScriptedWorld
from chatkit.script.server import ScriptedServer
from chatkit.state import ChatState

KIT = Path(__file__).resolve().parents[2]
SOLUTION = KIT / "solution" / "flow.py"
CLOCK = ScriptedWorld("phones").clock


def test_a_scenario_runs_the_same_on_spawned_phones() -> None:
    """Windows has no fork: each phone is started as an interpreter, dials the judge on
    loopback with a one-time token, and plays its part as a forked one does."""

    async def scenario() -> list[str]:
        template = PhoneTemplate(SOLUTION, spawn=True)
        kit = Scenario(template, ScriptedWorld("spawned"))
        try:
            hi = await kit.send("hi")
            await kit.echo(kit.store(hi))
            await kit.ack(hi)
            kit.expect(["'hi' sent #1"])
            return [row.describe() for row in kit.state().chat(kit.chat_id).rows]
        finally:
            kit.close()
            template.close()

    assert asyncio.run(scenario()) == ["'hi' sent #1"]


def test_the_judges_mirror_follows_the_phones_screen_diff_by_diff() -> None:
    """Rows added, changed in place, dropped; the banner and the in-flight set: after each
    diff the mirror reads as the phone's state does, rows told apart by object."""
    phone, reader = ChatState("you"), ScreenReader("you")
    writer = ScreenWriter(phone)
    chat = phone.chat("general")
    first = Message("a", "general", "you", "hi", CLOCK.now)
    twin = Message("b", "general", "you", "hi", CLOCK.now)

    def add_first() -> None:
        phone.add(first)
        chat.in_flight.add("a")

    def add_twin() -> None:
        phone.add(twin)
        chat.in_flight.add("b")

    def fail_first() -> None:
        first.error = "offline"
        chat.in_flight.discard("a")

    def banner() -> None:
        chat.error = "offline"

    def only_twin() -> None:
        chat.rows = [twin]

    changes = (add_first, add_twin, fail_first, banner, lambda: phone.drop_confirmed("general"))
    for change in (*changes, only_twin):
        change()
        reader.apply(writer.diff(everything=False))
        reader.apply(writer.diff())
        mirror = reader.state.chat("general")
        assert [row.describe() for row in mirror.rows] == [row.describe() for row in chat.rows]
        assert (mirror.in_flight, mirror.error) == (chat.in_flight, chat.error)
        assert sorted(reader.state.messages) == sorted(phone.messages)


def test_a_diff_cut_short_leaves_nothing_out_of_the_next() -> None:
    """A diff can stop half-way: a flow's object raised as it was read, or the flow called
    the server at the edge of its stack. What it had noted as written was never sent, so
    the next diff must bring the mirror to the phone's screen all the same."""

    class Raises(str):
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("compared")

        __hash__ = str.__hash__

    phone, reader = ChatState("you"), ScreenReader("you")
    writer = ScreenWriter(phone)
    first, second = phone.chat("first"), phone.chat("second")
    hi = Message("a", "first", "you", "hi", CLOCK.now)
    phone.add(hi)
    second.in_flight.add("x")
    reader.apply(writer.diff())

    first.error = "offline"  # read before the second chat, whose in-flight set raises
    hi.error = "offline"
    writer.touched(hi)
    phone.add(Message("b", "first", "you", "ok", CLOCK.now))
    second.in_flight = {Raises("x")}
    with pytest.raises(RuntimeError, match="compared"):
        writer.diff(everything=False)
    second.in_flight = {"x"}

    for everything in (False, True):
        reader.apply(writer.diff(everything=everything))
        mirror = reader.state.chat("first")
        assert mirror.error == "offline"
        assert [row.describe() for row in mirror.rows] == [row.describe() for row in first.rows]
        assert [row.error for row in mirror.rows] == ["offline", None]
        assert sorted(reader.state.messages) == ["a", "b"]


def test_the_server_a_flow_is_handed_keeps_nothing_of_the_flows() -> None:
    """The key names the server a flow is handed as "the server": what a flow could keep
    on it (or on its class, which every run shares) nothing would read, so nothing can."""

    class Server:
        async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
            raise DeliveryError("offline")

        async def history(self, chat_id: str) -> list[ServerMessage]:
            return []

    view = ServerView(Server())
    with pytest.raises(AttributeError):
        view.send = Server().send  # type: ignore[method-assign]
    with pytest.raises(AttributeError):
        del view.history
    with pytest.raises(TypeError):
        setattr(ServerView, "kept", 1)  # noqa: B010 (mypy knows there is no such attribute)


def test_a_value_that_is_not_plain_reaches_the_mirror_as_what_it_is() -> None:
    class Always(str):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    phone, reader = ChatState("you"), ScreenReader("you")
    phone.add(Message("a", "general", "you", Always("hi"), CLOCK.now))
    reader.apply(ScreenWriter(phone).diff())
    body = reader.state.chat("general").rows[0].body
    assert isinstance(body, Unplain) and body.kind == "Always"


@pytest.mark.parametrize(
    "diff",
    [
        {"chats": {"general": {"rows": [7]}}},
        {
            "rows": [
                [1, ["a", "general", "you", "hi", {"t": "not a time"}, "pending", None, None, None]]
            ]
        },
        {
            "rows": [
                [
                    1,
                    [
                        "a",
                        "general",
                        "you",
                        "hi",
                        {"t": "2026-01-01T00:00:00"},
                        "sent?",
                        1,
                        1,
                        None,
                    ],
                ]
            ]
        },
        {
            "rows": [
                [1, ["a", "general", "you", 5, {"t": "2026-01-01T00:00:00"}, "sent", 1, 1, None]]
            ]
        },
        {"index_added": [["a", 3]]},
        {"order": ["nowhere"]},
        {"chats": "general"},
        ["not", "a", "screen"],
    ],
)
def test_a_screen_that_is_not_one_is_refused(diff: Any) -> None:
    with pytest.raises(ScreenError):
        ScreenReader("you").apply(diff)


class _Liar:
    """A phone's line that answers with ``reports``, one per command."""

    def __init__(self, *reports: object) -> None:
        self.reports = list(reports)
        self.closed = False

    def hello(self) -> object:
        return {"ready": True}

    def call(self, command: dict[str, Any], seconds: float = 0) -> object:
        return self.reports.pop(0)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    "report",
    [
        {"screen": {}},
        {"events": [{"e": "request", "request": "one"}], "screen": {}},
        {"events": [], "screen": {"rows": [[0, []]]}},
    ],
)
def test_a_report_that_is_not_one_ends_the_phones_turn(report: object) -> None:
    async def start() -> None:
        line = _Liar(report)
        phone = RemotePhone(
            line,  # type: ignore[arg-type]
            "you",
            "you",
            ScriptedServer(),
            None,  # type: ignore[arg-type]
            print,
            lambda: CLOCK.now,
        )
        with pytest.raises(PhoneMisbehaved):
            phone.start("send", lambda op: None, chat_id="general", body="hi")
        assert line.closed

    asyncio.run(start())


COMPLAINER = """
def complain():
    try:
        yield
    finally:
        raise ValueError("COMPLAINT " * 100_000)


def make_noise():
    for _ in range(20):
        noisy = complain()
        next(noisy)
        del noisy  # Python writes 'Exception ignored in ...' to the real stderr
"""


def test_what_a_phone_writes_outside_its_line_never_reaches_the_grader(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A phone speaks only on its line. Python itself writes to a process's stderr (an
    exception a generator's clean-up raised, say): a phone's goes nowhere, so a flow
    cannot fill the grader's memory with it."""
    flow = tmp_path / "flow.py"
    flow.write_text(SOLUTION.read_text() + COMPLAINER)
    original = "    check_body(body)\n"
    flow.write_text(flow.read_text().replace(original, original + "    make_noise()\n", 1))

    async def scenario() -> None:
        template = PhoneTemplate(flow)
        kit = Scenario(template, ScriptedWorld("noisy"))
        try:
            hi = await kit.send("hi")
            await kit.ack(hi)
        finally:
            kit.close()
            template.close()

    asyncio.run(scenario())
    said = capfd.readouterr()
    assert "COMPLAINT" not in said.err + said.out


@pytest.mark.parametrize("spawn", [False, True], ids=["forked", "spawned"])
@pytest.mark.parametrize(
    ("sign", "said"),
    [
        (signal.SIGSEGV, "it was ended by SIGSEGV (the interpreter crashed)"),
        (signal.SIGKILL, "it was ended by SIGKILL (from outside"),
    ],
)
def test_a_phone_that_ends_without_a_word_is_reported_with_how_it_ended(
    spawn: bool, sign: signal.Signals, said: str
) -> None:
    """A phone's process that ends without a report (a crash, a kill from outside) leaves
    the judge a closed line; the report then says how the process ended, so a failure
    seen once on a busy machine can be told apart from a flow that hangs."""
    template = PhoneTemplate(SOLUTION, spawn=spawn)
    try:
        link = template.phone("a scenario", "phone", "you")
        assert link.hello() == {"ready": True}
        os.kill(link.pid, sign)
        with pytest.raises(PhoneGone, match=re.escape(said)):
            link.read()
        assert link.closed
    finally:
        template.close()
