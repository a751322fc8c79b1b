"""The ``chatkit`` command: grade, hint, grade-class, gradescope, serve, accounts, chat and demo.

``chatkit grade`` is ``python grader.py``; ``grade-class`` and ``gradescope`` are the
teacher's (`chatkit.grading.teacher_cli`); ``serve`` runs the live chat server,
``accounts`` makes the accounts people sign in with;
``chat`` and ``demo`` open the terminal client on it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chatkit.extras import run_needing_extras
from chatkit.grading import cli as grading_cli
from chatkit.grading.teacher_cli import add_teacher_commands
from chatkit.kit_home import NotInKit
from chatkit.learner_copy import add_classroom_command
from chatkit.live.accounts_cli import add_accounts_command
from chatkit.live.cli import add_serve_command
from chatkit.tui.cli import add_tui_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatkit", description="Chat Message Flow")
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade a flow against the scenarios")
    grading_cli.add_grade_arguments(grade)
    grade.set_defaults(func=grading_cli.run)

    hint = grading_cli.add_hint_command(commands, target_default="starter")
    hint.set_defaults(func=grading_cli.run)
    add_teacher_commands(commands)

    add_classroom_command(commands)
    add_serve_command(commands)
    add_accounts_command(commands)
    add_tui_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None and args.command in ("chat", "demo"):  # the flow runs as it is graded
        from chatkit.sandbox.world import hash_like_grading

        hash_like_grading()
    try:
        code: int = run_needing_extras(args.command, lambda: args.func(args))
    except NotInKit as error:
        print(f"chatkit {args.command}: {error}", file=sys.stderr)
        return 2
    return code
