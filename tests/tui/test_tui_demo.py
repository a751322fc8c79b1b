"""`DemoApp`: two users side by side, and the demo's own server that must leave nothing behind."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
from tui_support import ServerFactory, connected, load, statuses, type_and_send, until

from chatkit.model import Status
from chatkit.sandbox.world import HASH_SEED, hash_like_grading
from chatkit.tui.cli import CannotLoad, add_tui_commands, chat_command, main
from chatkit.tui.cli import load as load_target
from chatkit.tui.demo import USERS, DemoApp
from chatkit.tui.embedded import HOST, THREAD_NAME, EmbeddedServer
from chatkit.tui.screenshot import PICTURES, comparable, screen_text, take

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(45)]

SIZE = (160, 42)


def demo_app(url: str, passwords: Mapping[str, str], admin_token: str | None = None) -> DemoApp:
    path, first = load("solution")
    _, second = load("solution")
    return DemoApp(url, path, [first, second], passwords=passwords, admin_token=admin_token)


async def test_the_other_user_sees_a_message_exactly_once(start_server: ServerFactory) -> None:
    server = start_server("--echo-first")  # the harder order: the echo beats the ack
    app = demo_app(server.url, {user: server.account(user) for user in USERS})
    async with app.run_test(size=SIZE) as pilot:
        alice, bob = app.panes
        await until(pilot, "both connected", lambda: connected(alice) and connected(bob))

        alice.input.focus()
        await pilot.press(*"hi")
        await until(pilot, "bob sees alice typing", lambda: "alice" in bob.text_of("typing"))
        assert bob.text_of("typing") == "✎ alice typing…"
        await pilot.press("enter")
        await until(pilot, "bob sees it", lambda: statuses(bob, "hi") == [Status.SENT])
        await until(pilot, "it is sent for alice", lambda: statuses(alice, "hi") == [Status.SENT])
        assert bob.text_of("typing") == ""  # the message ended the typing hint

        # A barrier: bob's answer comes after any late duplicate of "hi" on the wire.
        await type_and_send(pilot, bob, "yo")
        await until(
            pilot, "alice sees bob's answer", lambda: statuses(alice, "yo") == [Status.SENT]
        )
        await until(pilot, "bob's answer is sent", lambda: statuses(bob, "yo") == [Status.SENT])
        for pane in (alice, bob):
            assert [row.message.body for row in pane.rows()] == ["hi", "yo"]
        # Each sees their own message set apart, with its tick; the other's by name, no mark.
        (hi, yo) = bob.rows()
        assert hi.text.startswith("alice  hi  ") and "✓" not in hi.text
        assert not hi.has_class("mine")
        assert yo.text.startswith("yo  ") and yo.text.endswith(" ✓") and yo.has_class("mine")
        assert "bob" not in yo.text
        (hi, yo) = alice.rows()
        assert hi.has_class("mine") and hi.text.endswith(" ✓")
        assert yo.text.startswith("bob  yo  ") and "✓" not in yo.text


async def test_the_demo_brings_its_server_and_leaves_nothing_behind() -> None:
    server = EmbeddedServer(users=USERS)
    async with server:
        folder = server.folder
        assert folder is not None and (folder / "demo.sqlite3").exists()
        app = demo_app(server.url, server.passwords, admin_token=server.admin_token)
        async with app.run_test(size=SIZE) as pilot:
            alice, bob = app.panes
            await until(pilot, "both connected", lambda: connected(alice) and connected(bob))
            await type_and_send(pilot, alice, "bye")
            await until(pilot, "bob sees it", lambda: statuses(bob, "bye") == [Status.SENT])
            await pilot.press("f4")  # the demo's own admin token turns its own server's switch
            await until(pilot, "sends are refused", lambda: app.panel.state("refuse") != "off")
            await until(pilot, "bob hears of it", lambda: bob.session.faults.get("refuse") == 1.0)
            await pilot.press("ctrl+q")
        assert not any(session.connected for session in app.sessions)
        assert server.running
    assert not server.running
    assert not folder.exists()  # the database and its folder are gone
    assert not [t.name for t in threading.enumerate() if t.name.startswith("chatkit-sqlite")]
    assert THREAD_NAME not in [t.name for t in threading.enumerate()]  # the server's thread
    with pytest.raises(OSError), socket.create_connection((HOST, server.port), timeout=2):
        pass


@pytest.mark.timeout(60)
@pytest.mark.parametrize("size", list(PICTURES), ids=[f"{w}x{h}" for w, h in PICTURES])
async def test_the_pictures_in_the_docs_are_the_screens_the_demo_shows(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    """Replay the screenshot's scene and read both pictures' text: they must match.

    If this fails, the app changed and the docs show an old screen: redraw them with
    ``python -m chatkit.tui.screenshot`` (and look at them before committing).
    """
    fresh = comparable(screen_text((await take(tmp_path / "demo.svg", size=size)).read_text()))
    shipped = comparable(screen_text(PICTURES[size].read_text()))
    assert len(fresh) == size[1]
    assert "\n".join(fresh) == "\n".join(shipped)


def test_screen_text_reads_an_svg_export_back_cell_by_cell() -> None:
    svg = (
        '<text x="0" y="20" clip-path="url(#terminal-1-line-0)">ab&#160;c</text>'
        '<text x="61" y="20" clip-path="url(#terminal-1-line-0)">✓</text>'
        '<text x="12.2" y="44" clip-path="url(#terminal-1-line-1)">12:34&#160;at&#160;127.0.0.1:5123</text>'
    )
    assert screen_text(svg) == ["ab c ✓", " 12:34 at 127.0.0.1:5123"]
    assert comparable(screen_text(svg))[1] == " HH:MM at 127.0.0.1:PORT"


def test_the_commands_are_chat_and_demo() -> None:
    parser = argparse.ArgumentParser(prog="chatkit")
    add_tui_commands(parser.add_subparsers(dest="command", required=True))
    chat = parser.parse_args(["chat", "--user", "ada", "--chat", "c1"])
    assert (chat.target, chat.user, chat.chat, chat.url) == (
        "starter",
        "ada",
        "c1",
        "http://127.0.0.1:5001",
    )
    assert chat.func is chat_command
    demo = parser.parse_args(["demo"])
    assert demo.target == "solution"


def test_a_target_that_does_not_load_is_a_sentence_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "flow.py").write_text("def send(:\n")
    assert main(["chat", "--user", "ada", "--target", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"chatkit chat: {tmp_path / 'flow.py'}, line 1:")
    assert "Traceback" not in error
    with pytest.raises(CannotLoad, match="no target at 'nowhere'"):
        load_target("nowhere")


def test_a_flow_the_grader_would_refuse_is_never_run_by_the_demo(tmp_path: Path) -> None:
    """The demo runs a flow in its own process, so it first makes the grader's check:
    a flow that reaches for Python's internals (here, another module's builtins) is
    refused with its line, and none of it runs."""
    ran = tmp_path / "ran"
    (tmp_path / "flow.py").write_text(
        "from chatkit import check_body\n\n"
        f"check_body.__globals__['__builtins__']['open']({str(ran)!r}, 'w')\n"
    )
    with pytest.raises(CannotLoad, match=r"line 3: .* reaches into Python's internals"):
        load_target(str(tmp_path))
    assert not ran.exists()


def test_the_terminal_client_runs_a_flow_with_the_hashes_it_is_graded_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From the command line, the client starts again with ``PYTHONHASHSEED`` as graded
    phones have it: a flow reading ``hash("…")``, or the order of a set of strings, finds
    the same live as graded (called with arguments, as here, it never starts again)."""
    started: list[tuple[str, list[str], Mapping[str, str]]] = []

    def execve(path: str, argv: list[str], env: Mapping[str, str]) -> None:
        started.append((path, argv, env))
        raise SystemExit(0)

    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setattr(sys, "argv", ["chatkit.tui", "demo"])
    monkeypatch.setenv("PYTHONHASHSEED", "random")
    with pytest.raises(SystemExit):
        main()
    ((path, argv, env),) = started
    assert (path, argv) == (sys.executable, sys.orig_argv)
    assert env["PYTHONHASHSEED"] == HASH_SEED
    monkeypatch.setenv("PYTHONHASHSEED", HASH_SEED)
    hash_like_grading()  # already so: nothing starts again
    assert len(started) == 1
