"""``chatkit chat`` and ``chatkit demo`` (also ``python -m chatkit.tui chat|demo``).

The ``chatkit`` console script registers both with `add_tui_commands`.
Loading the target runs the learner's module, so a file that does not even
import is reported here, in a sentence with its file and line, before any
screen opens.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from chatkit.blame import LoadFailure, load_failure
from chatkit.kit_home import TargetError
from chatkit.live.server.settings import DEFAULT_PORT
from chatkit.protocols import Flow
from chatkit.sandbox import Uncheckable, check_target
from chatkit.sandbox.world import hash_like_grading
from chatkit.target import display_path, load_flow, resolve_target
from chatkit.tui.credentials import (
    ADMIN_TOKEN_ENV,
    PASSWORD_ENV,
    CannotRead,
    ask_password,
    read_secret,
)

DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
CHAT_DESCRIPTION = (
    "Chat on the live server (start one with: chatkit serve; make your account with: "
    "chatkit accounts add NAME) through a target's send, "
    "reconcile and rollback. Enter sends (a paste of several lines is one message in a "
    "terminal with bracketed paste; ctrl+j starts a new line), ctrl+r retries failed "
    "messages oldest first, ctrl+o loads older messages, F2-F5 turn the server's fault "
    "switches, ctrl+l types the password again, ctrl+q quits. More in docs/terminal-client.md."
)
DEMO_DESCRIPTION = (
    "Two users side by side in one chat, on a chat server the demo starts and stops "
    "by itself (a temporary database, a free loopback port). Nothing else to set up."
)


class CannotLoad(Exception):
    """The target cannot be found or imported; the message says why, for a person."""


def load(spec: str, copies: int = 1) -> tuple[Path, list[Flow]]:
    """The target's path and ``copies`` independently loaded copies of its flow.

    Each user of the demo gets a copy of their own, as two devices would: a flow
    that keeps anything at module level does not share it with the other user.
    """
    try:
        path = resolve_target(spec)
    except TargetError as error:
        raise CannotLoad(str(error)) from None
    try:
        refused = check_target(path)
    except Uncheckable as error:
        raise CannotLoad(f"{display_path(error.path)}: {error.why}") from None
    if refused:  # the same check the grader makes: the demo runs the flow in this process
        first = refused[0]
        raise CannotLoad(
            f"{display_path(first.file)}, line {first.line}: {first.why} "
            "(the demo runs only a flow the grader would run)"
        )
    flows: list[Flow] = []
    for _ in range(copies):
        try:
            flows.append(load_flow(path))
        except (Exception, SystemExit) as error:
            raise CannotLoad(_why_not(load_failure(error, path), path)) from None
    return path, flows


def _why_not(failure: LoadFailure, path: Path) -> str:
    """One line on why the flow did not load, pointing at the learner's line."""
    place = failure.place
    if failure.error_type is None:  # it ran, but is not a flow yet
        return failure.message
    if failure.error_type == "SyntaxError" and place is not None:
        return (
            f"{display_path(Path(place.file))}, line {place.line}: {failure.message} — the file "
            "does not parse yet; python grader.py shows the same"
        )
    where = f" ({display_path(Path(place.file))}, line {place.line})" if place else ""
    return (
        f"{display_path(path)} raised {failure.error_type} while loading{where}: {failure.message}"
    )


def add_chat_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default="starter",
        help="whose flow runs: starter, solution, or a folder or flow.py (default: %(default)s)",
    )
    parser.add_argument("--user", required=True, help="who you are in the chat")
    parser.add_argument("--chat", default="general", help="the chat to join (default: %(default)s)")
    parser.add_argument("--url", default=DEFAULT_URL, help="the live server (default: %(default)s)")
    parser.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help=f"read your password from FILE's first line (or set ${PASSWORD_ENV}); "
        "without either you are asked for it",
    )
    parser.add_argument(
        "--admin-token-file",
        type=Path,
        metavar="FILE",
        help="the host's admin token, so the F-keys turn the fault switches (also read from "
        f"${ADMIN_TOKEN_ENV}); without it you see the switches but cannot turn them",
    )


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        default="solution",
        help="whose flow both users run: starter, solution, or a folder or flow.py "
        "(default: %(default)s)",
    )


def chat_command(args: argparse.Namespace) -> int:
    """Run the chat client until the user quits; the exit status for the shell."""
    from chatkit.tui.app import ChatApp  # Textual loads only when a screen is wanted
    from chatkit.tui.session import ChatSession

    try:
        path, (flow,) = load(args.target)
        admin_token = read_secret(args.admin_token_file, ADMIN_TOKEN_ENV)
        password = read_secret(args.password_file, PASSWORD_ENV) or ask_password(args.user)
    except (CannotLoad, CannotRead) as error:
        print(f"chatkit chat: {error}", file=sys.stderr)
        return 2
    session = ChatSession(
        flow, path, args.url, args.user, args.chat, password=password, admin_token=admin_token
    )
    ChatApp(session).run()
    return 0


def demo_command(args: argparse.Namespace) -> int:
    """Run the demo (server included) until the user quits; the exit status for the shell."""
    from chatkit.tui.demo import USERS, run_demo

    try:
        path, flows = load(args.target, copies=len(USERS))
    except CannotLoad as error:
        print(f"chatkit demo: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run_demo(path, flows))
    except OSError as error:  # no free port, no temporary folder...
        print(f"chatkit demo: the chat server could not start: {error}", file=sys.stderr)
        return 1
    return 0


def add_tui_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``chat`` and ``demo`` on a ``chatkit`` parser; the handler is ``args.func``."""
    chat = subparsers.add_parser(
        "chat", help="chat on the live server with a target's flow", description=CHAT_DESCRIPTION
    )
    add_chat_arguments(chat)
    chat.set_defaults(func=chat_command)
    demo = subparsers.add_parser(
        "demo", help="two users side by side, server included", description=DEMO_DESCRIPTION
    )
    add_demo_arguments(demo)
    demo.set_defaults(func=demo_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chatkit.tui", description="The terminal chat client of Chat Message Flow"
    )
    add_tui_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chatkit.tui chat|demo [options]``."""
    args = build_parser().parse_args(argv)
    if argv is None:  # from the command line: the flow runs with the hashes it is graded with
        hash_like_grading()
    code: int = args.func(args)
    return code
