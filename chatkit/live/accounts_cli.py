"""``chatkit accounts``: make the accounts a class signs in with.

    chatkit accounts add ada                 # asks for ada's password (twice)
    chatkit accounts import class.csv        # one account per row; see below
    chatkit accounts list

The CSV has a header row with a ``user`` column and, optionally, a ``password``
column. A row without a password gets a generated one; those are written to
``--out`` (readable by its owner only) or printed, for the teacher to hand out.
Either every row is imported or none is, and a bad row is named by its line.
Accounts go straight into the server's database (``--db``, the same file or
``postgresql://`` URL as ``chatkit serve --db``), whether or not the server is running.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import os
import secrets
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from chatkit.live.server.errors import ChatError
from chatkit.live.server.payloads import check_user
from chatkit.live.server.settings import DEFAULT_DB, ServerSettings
from chatkit.live.storage import accounts
from chatkit.live.storage.accounts import Accounts
from chatkit.live.storage.databases import account_store
from chatkit.live.storage.locations import shown
from chatkit.live.storage.messages import StoreError
from chatkit.live.storage.passwords import check_new_password

PASSWORD_ENV = "CHATKIT_PASSWORD"
GENERATED_BYTES = 9
"""A generated password: 12 URL-safe characters (72 bits), easy to copy from a list."""

DESCRIPTION = "Make the accounts people sign in with on the live chat server."


class BadAccountsInput(Exception):
    """Input the command will not use; the message says what to change."""


def add_accounts_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``accounts`` (with ``add``, ``import`` and ``list``) on the ``chatkit`` parser."""
    parser = subparsers.add_parser(
        "accounts", help="make accounts for the live server", description=DESCRIPTION
    )
    actions = parser.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="add one account (asks for the password)")
    add.add_argument("user")
    add.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help=f"read the password from FILE's first line (or set ${PASSWORD_ENV}) "
        "instead of being asked",
    )
    add.add_argument("--reset", action="store_true", help="give an existing account a new password")

    load = actions.add_parser("import", help="add one account per row of a CSV file")
    load.add_argument("csv", type=Path, help="a CSV with a 'user' column, and maybe 'password'")
    load.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the generated passwords to FILE (a CSV) instead of printing them",
    )

    actions.add_parser("list", help="list the accounts")
    for action in actions.choices.values():
        action.add_argument(
            "--db",
            "--database",
            dest="db",
            default=str(DEFAULT_DB),
            metavar="FILE_OR_URL",
            help="the server's SQLite file or postgresql:// URL (default: %(default)s)",
        )
    parser.set_defaults(func=accounts_command)


def accounts_command(args: argparse.Namespace) -> int:
    try:
        if args.action == "add":
            return _add(args)
        if args.action == "import":
            return _import(args)
        return _list(args)
    except (BadAccountsInput, accounts.AccountError) as error:
        print(f"chatkit accounts: {error}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error, StoreError) as error:
        print(f"chatkit accounts: {error}", file=sys.stderr)
        return 1


T = TypeVar("T")


def _with_accounts(location: str, work: Callable[[Accounts], Awaitable[T]]) -> T:
    """``work`` on the accounts at ``location`` (a SQLite file or a PostgreSQL URL)."""

    async def run() -> T:
        store = account_store(location)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def read_rows(path: Path) -> list[tuple[str, str | None]]:
    """The (user, password or None) rows of a class CSV; `BadAccountsInput` naming a bad line."""
    settings = ServerSettings()
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        columns = [name.strip().lower() for name in reader.fieldnames or []]
        if "user" not in columns:
            raise BadAccountsInput(f"{path} needs a header row with a 'user' column")
        reader.fieldnames = columns
        rows: list[tuple[str, str | None]] = []
        seen: set[str] = set()
        for row in reader:
            line = reader.line_num
            user = (row.get("user") or "").strip()
            password = (row.get("password") or "").strip() or None
            try:
                check_user(user, settings)
                if password is not None:
                    check_new_password(password)
            except (ChatError, ValueError) as error:
                reason = error.reason if isinstance(error, ChatError) else str(error)
                raise BadAccountsInput(f"{path}, line {line}: {reason}") from None
            if user in seen:
                raise BadAccountsInput(f"{path}, line {line}: {user!r} is in the file twice")
            seen.add(user)
            rows.append((user, password))
    if not rows:
        raise BadAccountsInput(f"{path} has no accounts in it")
    return rows


def _add(args: argparse.Namespace) -> int:
    try:
        user = check_user(args.user, ServerSettings())
    except ChatError as error:
        raise BadAccountsInput(error.reason) from None
    password = _password(args.password_file, user)
    try:
        check_new_password(password)
    except ValueError as error:
        raise BadAccountsInput(str(error)) from None
    _with_accounts(
        args.db, lambda store: store.create_users([(user, password)], replace=args.reset)
    )
    print(f"{'new password for' if args.reset else 'account made:'} {user}")
    return 0


def _import(args: argparse.Namespace) -> int:
    rows = read_rows(args.csv)
    generated = {user: secrets.token_urlsafe(GENERATED_BYTES) for user, pw in rows if pw is None}
    made = [(user, password or generated[user]) for user, password in rows]
    count = _with_accounts(args.db, lambda store: store.create_users(made))
    print(f"{count} account{'' if count == 1 else 's'} made in {shown(args.db)}")
    if not generated:
        return 0
    if args.out is not None:
        descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["user", "password"])
            writer.writerows(generated.items())
        print(f"their generated passwords are in {args.out}: hand each one out, then delete it")
    else:
        width = max(len(user) for user in generated)
        print("generated passwords (hand each one out):")
        for user, password in generated.items():
            print(f"  {user:<{width}}  {password}")
    return 0


def _list(args: argparse.Namespace) -> int:
    names = _with_accounts(args.db, lambda store: store.user_names())
    print("\n".join(names) if names else "no accounts yet: chatkit accounts add NAME")
    return 0


def _password(path: Path | None, user: str) -> str:
    if path is not None:
        lines = path.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0].strip():
            raise BadAccountsInput(f"{path} is empty")
        return lines[0].strip()
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    first = getpass.getpass(f"password for {user}: ")
    if getpass.getpass("the same again: ") != first:
        raise BadAccountsInput("the two passwords differ; nothing was changed")
    return first
