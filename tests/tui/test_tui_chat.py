"""`ChatApp` against a real server: what a learner sees when they send, fail and retry.

Each test starts its own server on a free loopback port and drives the app
headless with Textual's pilot, waiting on what the screen shows, never sleeping.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from tui_support import (
    ServerFactory,
    ServerProcess,
    burst,
    connected,
    free_port,
    load,
    statuses,
    type_and_send,
    until,
)

from chatkit.live.client.transports import HttpTransport
from chatkit.model import Status
from chatkit.tui.app import ChatApp
from chatkit.tui.embedded import HOST
from chatkit.tui.pane import ChatPane
from chatkit.tui.password import PasswordScreen
from chatkit.tui.session import ChatSession

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(45)]

PENDING, SENT, FAILED = Status.PENDING, Status.SENT, Status.FAILED


def chat_app(
    server: ServerProcess | str,
    target: str = "solution",
    user: str = "ada",
    admin_token: str | None = None,
    password: str | None = None,
) -> ChatApp:
    """The chat app as ``user`` (the server makes the account), or at a bare URL."""
    path, flow = load(target)
    if isinstance(server, ServerProcess):
        url, password = server.url, server.account(user, password)
    else:
        url = server
    return ChatApp(
        ChatSession(flow, path, url, user, "general", password=password, admin_token=admin_token)
    )


async def test_a_sent_message_shows_pending_then_sent(start_server: ServerFactory) -> None:
    server = start_server("--latency-ms", "1000")  # long enough to catch it pending
    app = chat_app(server)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await type_and_send(pilot, pane, "hello")
        await until(pilot, "the row shows pending", lambda: statuses(pane, "hello") == [PENDING])
        assert pane.text_of("sending") == "sending…"
        row = pane.rows_for("hello")[0]
        assert row.has_class("mine", "pending")  # set apart, and dimmed while pending
        assert row.text.startswith("hello  ") and row.text.endswith("◷ sending")
        await until(pilot, "the row shows sent", lambda: statuses(pane, "hello") == [SENT])
        assert pane.rows_for("hello") == [row]
        assert row.shown == [PENDING, SENT]  # the same row, changed in place
        assert row.text.startswith("hello  ") and row.text.endswith(" ✓")
        assert not row.has_class("pending")
        assert pane.text_of("sending") == ""
        assert pane.text_of("banner") == ""
        assert pane.input.text == ""


async def test_a_refused_send_fails_with_its_reason_and_a_retry_sends_it(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    app = chat_app(server, admin_token=server.admin_token)
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
        assert row.text == (
            "nope  ✗ not sent\n"
            "the server refused the message (an injected fault)\n"
            "ctrl+r or click to retry"
        )
        assert pane.text_of("banner").startswith("⚠ not sent: the server refused the message")

        await pilot.press("f4")
        await until(pilot, "refusals are off", lambda: app.panel.state("refuse") == "off")
        await pilot.press("ctrl+r")
        await until(pilot, "the retry went through", lambda: statuses(pane, "nope") == [SENT])
        assert pane.rows_for("nope") == [row]  # retried in place, same client id
        assert row.shown == [PENDING, FAILED, PENDING, SENT]
        assert pane.text_of("banner") == ""


async def test_a_lost_ack_is_made_good_by_the_echo(start_server: ServerFactory) -> None:
    server = start_server()
    app = chat_app(server, admin_token=server.admin_token)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await pilot.press("f3")
        await until(pilot, "acks are lost", lambda: app.panel.state("lose_acks") != "off")
        await type_and_send(pilot, pane, "echo")
        await until(pilot, "the echo confirmed it", lambda: statuses(pane, "echo") == [SENT])
        assert pane.text_of("banner") == ""


NOT_WRITTEN_FLOW = """\
async def send(state, server, chat_id, body, *, client_id=None):
    raise NotImplementedError("TODO: send")


def reconcile(state, incoming):
    raise NotImplementedError("TODO: reconcile")


def rollback(state, client_id, reason):
    raise NotImplementedError("TODO: rollback")
"""
"""A flow like the starter before the learner writes anything. The kit's tests never
load the learner's own ``starter-code/``: solving the exercise must not turn them red."""


async def test_a_flow_not_written_yet_says_so(start_server: ServerFactory, tmp_path: Path) -> None:
    server = start_server()
    (tmp_path / "flow.py").write_text(NOT_WRITTEN_FLOW)
    app = chat_app(server, target=str(tmp_path))
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await type_and_send(pilot, pane, "hi")
        await until(pilot, "a notice shows", lambda: pane.text_of("notice"))
        assert pane.text_of("notice") == (
            f"send is not written yet — open {tmp_path / 'flow.py'}; "
            "python grader.py shows where to start"
        )
        assert "Traceback" not in pane.text_of("notice")
        assert pane.input.text == "hi"  # the words are given back, nothing was sent
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


async def test_any_other_error_is_a_readable_notice(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server()
    (tmp_path / "flow.py").write_text(BROKEN_FLOW)
    app = chat_app(server, target=str(tmp_path))
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
        assert pane.input.text == "hi!"
        assert app.is_running


async def test_a_server_not_up_yet_is_tried_again_and_found(start_server: ServerFactory) -> None:
    port = free_port()
    password = secrets.token_urlsafe(12)
    app = chat_app(f"http://{HOST}:{port}", password=password)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "a notice shows", lambda: pane.text_of("notice"))
        assert pane.text_of("notice").startswith("Could not reach the chat server at http://")
        assert "chatkit serve" in pane.text_of("notice")
        assert "could not reach" not in pane.text_of("notice")  # said once, not twice
        assert "keeps trying by itself" in pane.text_of("notice")
        await until(pilot, "it says when it tries again", lambda: "trying again in" in header(pane))
        assert header(pane).startswith("offline — trying again in ")
        await type_and_send(pilot, pane, "too early")
        await until(pilot, "it failed", lambda: statuses(pane, "too early") == [FAILED])
        # The failed send does not take away the notice: the server is still down.
        assert pane.text_of("notice").startswith("Could not reach the chat server at http://")

        start_server(port=port, accounts={"ada": password})
        await until(pilot, "connected once the server is up", lambda: connected(pane), timeout=20)
        await pilot.press("ctrl+r")
        await until(pilot, "the retry went", lambda: statuses(pane, "too early") == [SENT])
        assert pane.session.tries >= 2
        assert header(pane).startswith("connected")
        assert pane.text_of("notice") == ""  # the unreachable notice went with the problem
        await type_and_send(pilot, pane, "made it")
        await until(pilot, "the send went through", lambda: statuses(pane, "made it") == [SENT])


async def test_the_connection_line_follows_a_drop_and_a_reconnect(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    app = chat_app(server)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await type_and_send(pilot, pane, "before")
        await until(pilot, "sent", lambda: statuses(pane, "before") == [SENT])
        line = pane.query_one("#header")
        assert not line.has_class("down")

        server.stop()
        await until(pilot, "the drop shows", lambda: "reconnecting" in header(pane))
        assert header(pane).startswith("connection lost — reconnecting…")
        assert line.has_class("down")
        await type_and_send(pilot, pane, "while down")
        await until(pilot, "it failed", lambda: statuses(pane, "while down") == [FAILED])
        assert pane.text_of("banner") == "⚠ not sent: not connected to the server"

        server.start(port=server.port)
        await until(pilot, "back", lambda: header(pane).startswith("connected"), timeout=20)
        assert not line.has_class("down")
        assert pane.text_of("notice") == ""
        # The banner is about the failed send, not the connection: it stays until a send works.
        assert pane.text_of("banner") == "⚠ not sent: not connected to the server"
        await until(pilot, "the history is back", lambda: statuses(pane, "before") == [SENT])
        await pilot.press("ctrl+r")
        await until(pilot, "the retry went", lambda: statuses(pane, "while down") == [SENT])
        assert pane.text_of("banner") == ""
        await type_and_send(pilot, pane, "after")
        await until(pilot, "sent after", lambda: statuses(pane, "after") == [SENT])
        assert [row.message.body for row in pane.rows()] == ["before", "while down", "after"]


async def test_the_fault_panel_follows_a_switch_turned_by_another_client(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    app = chat_app(server)
    async with (
        app.run_test() as pilot,
        HttpTransport(server.url, admin_token=server.admin_token) as other,
    ):
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        assert app.panel.state("refuse") == "off"

        await other.set_faults(refuse=1.0)
        await until(pilot, "the panel shows it", lambda: app.panel.state("refuse") != "off")
        assert app.panel.state("refuse") == "every send"
        await type_and_send(pilot, pane, "refused")
        await until(pilot, "refused", lambda: statuses(pane, "refused") == [FAILED])

        await other.set_faults(refuse=0.0, latency_ms=1000)
        await until(pilot, "the panel follows", lambda: app.panel.state("refuse") == "off")
        await until(pilot, "and the latency", lambda: app.panel.state("latency_ms") == "1 s")


def header(pane: ChatPane) -> str:
    return pane.text_of("header")


async def test_a_wrong_password_says_so_once_and_is_not_tried_again(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    server.account("ada")
    path, flow = load("solution")
    app = ChatApp(
        ChatSession(flow, path, server.url, "ada", "general", password="not-adas-password")
    )
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "a notice shows", lambda: pane.text_of("notice"))
        assert pane.text_of("notice").startswith(
            "Could not sign in as ada: wrong user name or password."
        )
        assert "chatkit accounts add" in pane.text_of("notice")
        assert header(pane).startswith("not signed in")
        await until(pilot, "the app asks", lambda: isinstance(app.screen, PasswordScreen))
        await pilot.press("escape")
        await pilot.press("f4")  # no session, no admin token: nothing changes, nothing breaks
        assert pane.session.tries == 1, "a wrong password was tried again"
        assert pane.session.retry_at is None, "another try is scheduled"


async def test_without_the_admin_token_the_switches_are_seen_but_not_turned(
    start_server: ServerFactory,
) -> None:
    server = start_server("--echo-first")
    app = chat_app(server)  # a learner: no admin token
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await until(pilot, "the switches show", lambda: app.panel.state("echo_first") == "on")
        await pilot.press("f4")
        await until(pilot, "a notice shows", lambda: "only the host" in pane.text_of("notice"))
        assert "--admin-token-file" in pane.text_of("notice")
        assert "$CHATKIT_ADMIN_TOKEN" in pane.text_of("notice")
        assert app.panel.state("refuse") == "off"
        await type_and_send(pilot, pane, "still sent")
        await until(pilot, "the send went through", lambda: statuses(pane, "still sent") == [SENT])


async def test_ctrl_r_pressed_fast_retries_every_failed_message_oldest_first(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    app = chat_app(server, admin_token=server.admin_token)
    bodies = [f"R{n:02d}" for n in range(1, 6)]
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await pilot.press("f4")
        await until(pilot, "refusals on", lambda: app.panel.state("refuse") != "off")
        for body in bodies:
            await type_and_send(pilot, pane, body)
        await until(
            pilot, "all failed", lambda: all(statuses(pane, body) == [FAILED] for body in bodies)
        )
        await pilot.press("f4")
        await until(pilot, "refusals off", lambda: app.panel.state("refuse") == "off")
        burst(app, "\x12" * len(bodies))  # five ctrl+r in one chunk
        await until(
            pilot, "all sent", lambda: all(statuses(pane, body) == [SENT] for body in bodies)
        )
        await pilot.press("ctrl+r")  # nothing left to retry: nothing is sent again
    async with HttpTransport(server.url) as reader:
        await reader.login("ada", server.account("ada"))
        stored = [message.body for message in await reader.history("general")]
    assert stored == bodies


async def test_a_wrong_password_is_asked_for_again_in_the_app(start_server: ServerFactory) -> None:
    server = start_server()
    password = server.account("ada")
    path, flow = load("solution")
    app = ChatApp(ChatSession(flow, path, server.url, "ada", "general", password="wrong"))
    async with app.run_test() as pilot:
        await until(pilot, "the app asks", lambda: isinstance(app.screen, PasswordScreen))
        assert "wrong user name or password" in str(app.screen.query_one("#why").render())
        await pilot.press(*password, "enter")
        pane = app.pane
        await until(pilot, "signed in", lambda: connected(pane))
        assert pane.text_of("notice") == ""
        await type_and_send(pilot, pane, "in at last")
        await until(pilot, "sent", lambda: statuses(pane, "in at last") == [SENT])


async def test_a_client_left_signed_out_says_how_to_sign_in_not_retry(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    server.account("ada")
    path, flow = load("solution")
    app = ChatApp(ChatSession(flow, path, server.url, "ada", "general", password="wrong"))
    async with app.run_test() as pilot:
        await until(pilot, "the app asks", lambda: isinstance(app.screen, PasswordScreen))
        await pilot.press("escape")
        pane = app.pane
        assert "ctrl+l" in pane.text_of("notice")
        await type_and_send(pilot, pane, "anyone?")
        await until(pilot, "it failed", lambda: statuses(pane, "anyone?") == [FAILED])
        (row,) = pane.rows_for("anyone?")
        assert row.text.endswith("\nnot signed in: ctrl+l to type the password, then ctrl+r")
        assert "ctrl+l" in pane.text_of("notice")  # the failed send kept the sign-in notice
        await pilot.press("ctrl+l")
        await until(pilot, "asked again", lambda: isinstance(app.screen, PasswordScreen))


async def test_clicking_a_failed_message_retries_that_one(start_server: ServerFactory) -> None:
    server = start_server()
    app = chat_app(server, admin_token=server.admin_token)
    async with app.run_test() as pilot:
        pane = app.pane
        await until(pilot, "connected", lambda: connected(pane))
        await pilot.press("f4")
        await until(pilot, "refusals on", lambda: app.panel.state("refuse") != "off")
        for body in ("first", "second"):
            await type_and_send(pilot, pane, body)
        await until(pilot, "both failed", lambda: statuses(pane, "second") == [FAILED])
        await pilot.press("f4")
        await until(pilot, "refusals off", lambda: app.panel.state("refuse") == "off")
        (second,) = pane.rows_for("second")
        line, _ = pane.timeline.line_range(second)
        await pilot.click("#timeline", offset=(4, line - round(pane.timeline.scroll_y)))
        await until(pilot, "the clicked one went", lambda: statuses(pane, "second") == [SENT])
        assert statuses(pane, "first") == [FAILED]  # only the one clicked
