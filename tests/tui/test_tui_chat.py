"""`ChatApp` against a real server: what a learner sees when they send, fail and retry.

Each test starts its own server on a free loopback port and drives the app
headless with Textual's pilot, waiting on what the screen shows, never sleeping.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import connected, free_port, load, statuses, type_and_send, until

from chatkit.model import Status
from chatkit.tui.app import ChatApp
from chatkit.tui.embedded import HOST

pytestmark = [pytest.mark.budget(30), pytest.mark.timeout(45)]

PENDING, SENT, FAILED = Status.PENDING, Status.SENT, Status.FAILED


def chat_app(url: str, target: str = "solution", user: str = "ada") -> ChatApp:
    path, flow = load(target)
    return ChatApp(flow, path, url, user, "general")


async def test_a_sent_message_shows_pending_then_sent(start_server) -> None:
    server = start_server("--latency-ms", "1000")  # long enough to catch it pending
    app = chat_app(server.url)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await type_and_send(pilot, pane, "hello")
        await until(pilot, "the row shows pending", lambda: statuses(pane, "hello") == [PENDING])
        assert pane.text_of("sending") == "sending…"
        assert pane.rows_for("hello")[0].text.startswith("◷ ada: hello")
        await until(pilot, "the row shows sent", lambda: statuses(pane, "hello") == [SENT])
        row = pane.rows_for("hello")[0]
        assert row.shown == [PENDING, SENT]  # the same row, changed in place
        assert row.text.startswith("✓ ada: hello  #1")
        assert pane.text_of("sending") == ""
        assert pane.text_of("banner") == ""
        assert pane.input.value == ""


async def test_a_refused_send_fails_with_its_reason_and_a_retry_sends_it(start_server) -> None:
    server = start_server()
    app = chat_app(server.url)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await pilot.press("f4")
        await until(
            pilot, "the panel shows refusals on", lambda: app.panel.state("refuse") != "off"
        )
        assert app.panel.state("refuse") == "every send"

        await type_and_send(pilot, pane, "nope")
        await until(pilot, "the send failed", lambda: statuses(pane, "nope") == [FAILED])
        row = pane.rows_for("nope")[0]
        assert "failed: the server refused the message" in row.text
        assert pane.text_of("banner").startswith("⚠ the server refused the message")

        await pilot.press("f4")
        await until(pilot, "refusals are off", lambda: app.panel.state("refuse") == "off")
        await pilot.press("ctrl+r")
        await until(pilot, "the retry went through", lambda: statuses(pane, "nope") == [SENT])
        assert pane.rows_for("nope") == [row]  # retried in place, same client id
        assert row.shown == [PENDING, FAILED, PENDING, SENT]
        assert pane.text_of("banner") == ""


async def test_a_lost_ack_is_made_good_by_the_echo(start_server) -> None:
    server = start_server()
    app = chat_app(server.url)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await pilot.press("f3")
        await until(pilot, "acks are lost", lambda: app.panel.state("lose_acks") != "off")
        await type_and_send(pilot, pane, "echo")
        await until(pilot, "the echo confirmed it", lambda: statuses(pane, "echo") == [SENT])
        assert pane.text_of("banner") == ""


async def test_the_starter_says_send_is_not_written_yet(start_server) -> None:
    server = start_server()
    app = chat_app(server.url, target="starter")
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await type_and_send(pilot, pane, "hi")
        await until(pilot, "a notice shows", lambda: pane.text_of("notice"))
        assert pane.text_of("notice") == (
            "send is not written yet — open starter-code/flow.py; "
            "python grader.py shows where to start"
        )
        assert "Traceback" not in pane.text_of("notice")
        assert pane.input.value == "hi"  # the words are given back, nothing was sent
        assert app.is_running


BROKEN_FLOW = """\
from chatkit import ChatState, ServerMessage


async def send(state, server, chat_id, body, *, client_id=None):
    return {}["no such key"]


def reconcile(state: ChatState, incoming: ServerMessage) -> None:
    pass


def rollback(state, client_id, reason):
    pass
"""


async def test_any_other_error_is_a_readable_notice(start_server, tmp_path: Path) -> None:
    server = start_server()
    (tmp_path / "flow.py").write_text(BROKEN_FLOW)
    app = chat_app(server.url, target=str(tmp_path))
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await type_and_send(pilot, pane, "hi")
        await until(pilot, "a notice shows", lambda: pane.text_of("notice"))
        notice = pane.text_of("notice")
        assert notice.startswith("KeyError in send: 'no such key'")
        assert f'{tmp_path / "flow.py"}, line 5: return {{}}["no such key"]' in notice
        pane.session.tell(None)
        await type_and_send(pilot, pane, "!")  # it keeps running, and keeps telling
        await until(pilot, "the second send was tried", lambda: pane.text_of("notice"))
        assert pane.input.value == "hi!"
        assert app.is_running


async def test_an_unreachable_server_is_a_notice_not_a_crash() -> None:
    app = chat_app(f"http://{HOST}:{free_port()}")
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "a notice shows", lambda: pane.text_of("notice"))
        assert pane.text_of("notice").startswith("Could not reach the chat server at http://")
        assert "chatkit serve" in pane.text_of("notice")
        assert pane.text_of("header").startswith("offline")
