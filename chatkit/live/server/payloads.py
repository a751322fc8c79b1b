"""Checking what clients send, before anything else looks at it.

Every Socket.IO event and HTTP body arrives as untrusted JSON: maybe not an
object, maybe missing fields, maybe a number where text belongs. Each parser here
turns such a payload into a small typed request or raises `BadRequest` with a
reason a person can read; the server answers that reason as an error ack and the
connection lives on. Fields a client has no say over (an ``author``, say) are not
read at all: the sender is whoever the connection signed in as.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard

from chatkit.live.server.errors import BadRequest
from chatkit.live.server.settings import ServerSettings
from chatkit.live.storage.accounts import PRIVATE_PREFIX
from chatkit.live.wire import whole_number

MAX_COUNT = 2**62
"""The largest sequence number a history query may name: SQLite integers are 64-bit."""
MAX_COUNT_DIGITS = 19
MAX_SECRET_CHARS = 1024
"""The longest password, token or invite code read at all."""

UNSAFE_IN_BODY = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
"""What a message body may not contain: every C0 and C1 control except tab and newline
(NUL, the ESC that starts an ANSI sequence, carriage return, backspace...), and the
bidirectional controls that reorder text (the "Trojan Source" characters).

Refused, not made visible: a body is shown in other people's terminals exactly as
stored, and a refusal keeps the stored text the sender's own words, with a reason
they can act on ("remove the ESC at position 4"), instead of a silently changed copy.
"""
PUBLIC_CHAT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
"""A public chat's name: lowercase ASCII letters, digits, ``.``, ``_`` and ``-``, starting
with a letter or digit. Every character is visible and none looks like another, so two
chats never read alike in a terminal (no ``General`` beside ``general``, no look-alike
hyphen, no invisible joiner)."""
PRIVATE_CHAT_ID = re.compile(re.escape(PRIVATE_PREFIX) + r"[A-Za-z0-9_-]+")
"""A private chat's id, as `chatkit.live.storage.accounts` makes them (``private-`` and a random
URL-safe tail). Public names may not begin with ``private`` at all, so no public chat
can pass for a private one."""
_CONTROL_NAMES = {"\x00": "NUL", "\x08": "BACKSPACE", "\r": "CARRIAGE RETURN", "\x1b": "ESCAPE"}
"""Names for the controls people meet most (unicodedata has none for C0 controls)."""


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """Either a name and password, or the token of a session to resume."""

    user: str | None
    password: str | None
    token: str | None


@dataclass(frozen=True, slots=True)
class SendRequest:
    chat_id: str
    client_id: str
    body: str


@dataclass(frozen=True, slots=True)
class TypingRequest:
    chat_id: str
    typing: bool


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    chat_id: str
    after: int | None
    before: int | None
    limit: int


def single_payload(args: tuple[object, ...]) -> Mapping[str, object]:
    """The one JSON object a Socket.IO event must carry."""
    if len(args) != 1:
        raise BadRequest(f"send exactly one object with this event (got {len(args)} arguments)")
    payload = args[0]
    if not isinstance(payload, dict):
        raise BadRequest(f"the payload must be an object, not {_kind(payload)}")
    return payload


def parse_login(payload: Mapping[str, object], settings: ServerSettings) -> LoginRequest:
    token = payload.get("token")
    if token is not None:
        if not _is_secret(token):
            raise BadRequest("'token' must be the text the server gave at sign-in")
        return LoginRequest(None, None, token)
    user = check_user(_text(payload, "user"), settings)
    password = _text(payload, "password")
    if not _is_secret(password):
        raise BadRequest(f"a password is 1 to {MAX_SECRET_CHARS} characters of valid text")
    return LoginRequest(user, password, None)


def check_user(user: str, settings: ServerSettings) -> str:
    """A user name: printable, no spaces at either end, not too long."""
    if user != user.strip() or not user:
        raise BadRequest("a user name cannot be empty or start or end with spaces")
    if not user.isprintable():
        raise BadRequest("a user name cannot contain control characters")
    if len(user) > settings.max_user_chars:
        raise BadRequest(f"a user name can be at most {settings.max_user_chars} characters")
    return user


def parse_invite(payload: Mapping[str, object], settings: ServerSettings) -> tuple[str, str]:
    """The chat and the user invited into it."""
    return parse_chat_id(payload, settings), check_user(_text(payload, "user"), settings)


def parse_code(payload: Mapping[str, object]) -> str:
    code = _text(payload, "code")
    if not _is_secret(code):
        raise BadRequest("'code' must be the invite code a member shared")
    return code


def _is_secret(value: object) -> TypeGuard[str]:
    """A password, token or code: 1 to `MAX_SECRET_CHARS` characters of valid text."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_SECRET_CHARS:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_chat_id(payload: Mapping[str, object], settings: ServerSettings) -> str:
    return check_chat_id(_text(payload, "chat_id"), settings)


def check_chat_id(value: str, settings: ServerSettings) -> str:
    """A private chat's id, or a public chat's name (`PUBLIC_CHAT_NAME`, not ``private…``)."""
    check_name(value, "chat_id", settings.max_chat_id_chars)
    if PRIVATE_CHAT_ID.fullmatch(value):
        return value
    if not PUBLIC_CHAT_NAME.fullmatch(value):
        raise BadRequest(
            "a chat name is lowercase letters (a-z), digits and '.', '_' or '-', starting "
            "with a letter or digit"
        )
    if value.startswith("private"):
        raise BadRequest("chat names starting with 'private' are kept for private chats")
    return value


def parse_send(payload: Mapping[str, object], settings: ServerSettings) -> SendRequest:
    chat_id = parse_chat_id(payload, settings)
    client_id = check_name(_text(payload, "client_id"), "client_id", settings.max_client_id_chars)
    if "body" not in payload:
        raise BadRequest("the payload has no 'body'")
    return SendRequest(chat_id, client_id, check_wire_body(payload["body"], settings))


def parse_typing(payload: Mapping[str, object], settings: ServerSettings) -> TypingRequest:
    chat_id = parse_chat_id(payload, settings)
    typing = payload.get("typing", True)
    if not isinstance(typing, bool):
        raise BadRequest("'typing' must be true or false")
    return TypingRequest(chat_id, typing)


def parse_history(payload: Mapping[str, object], settings: ServerSettings) -> HistoryRequest:
    chat_id = parse_chat_id(payload, settings)
    return HistoryRequest(
        chat_id,
        after=_optional_count(payload.get("after"), "after"),
        before=_optional_count(payload.get("before"), "before"),
        limit=page_limit(payload.get("limit"), settings),
    )


def parse_history_query(
    chat_id: str, query: Mapping[str, str], settings: ServerSettings
) -> HistoryRequest:
    """The same request from an HTTP query string, where every value arrives as text."""
    numbers: dict[str, int | None] = {}
    for name in ("after", "before", "limit"):
        raw = query.get(name)
        if raw is None or raw == "":
            numbers[name] = None
        elif raw.isascii() and raw.isdigit() and len(raw) <= MAX_COUNT_DIGITS:
            numbers[name] = int(raw)
        else:
            raise BadRequest(f"'{name}' must be a whole number")
    return HistoryRequest(
        check_chat_id(chat_id, settings),
        after=_optional_count(numbers["after"], "after"),
        before=_optional_count(numbers["before"], "before"),
        limit=page_limit(numbers["limit"], settings),
    )


def check_wire_body(body: object, settings: ServerSettings) -> str:
    """The server's own copy of the body rules (it never trusts the client's check)."""
    if not isinstance(body, str):
        raise BadRequest(f"a message body must be text, not {_kind(body)}")
    if not body.strip():
        raise BadRequest("a message cannot be empty")
    check_text(body)
    if len(body) > settings.max_body_chars:
        raise BadRequest(
            f"a message can be at most {settings.max_body_chars} characters "
            f"(this one has {len(body)})"
        )
    return body


def check_text(body: str) -> None:
    """Refuse a body that is not valid text, or that could take over a terminal.

    Checked before the message goes anywhere near a commit batch: a lone surrogate
    cannot be encoded to UTF-8, and once in a batch it would fail every message
    committed with it.
    """
    try:
        body.encode("utf-8")
    except UnicodeEncodeError as error:
        raise BadRequest(
            f"a message must be valid text (a broken character at position {error.start + 1})"
        ) from None
    unsafe = UNSAFE_IN_BODY.search(body)
    if unsafe is not None:
        char = unsafe.group()
        name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "CONTROL")
        raise BadRequest(
            f"a message cannot contain control characters (U+{ord(char):04X} {name} at "
            f"position {unsafe.start() + 1}); they would change other people's screens"
        )


def check_name(value: str, field: str, limit: int) -> str:
    """A chat or client id: 1 to ``limit`` printable characters, no spaces."""
    if not value:
        raise BadRequest(f"'{field}' cannot be empty")
    if len(value) > limit:
        raise BadRequest(f"'{field}' can be at most {limit} characters")
    # of the characters str.isspace() knows, only " " is printable: the others are
    # controls or separators, which isprintable() refuses already
    if not value.isprintable() or " " in value:
        raise BadRequest(f"'{field}' cannot contain spaces or control characters")
    return value


def page_limit(raw: object, settings: ServerSettings) -> int:
    if raw is None:
        return settings.history_page_default
    if not whole_number(raw) or raw < 1:
        raise BadRequest("'limit' must be a whole number of at least 1")
    # anything above the page size is clamped, however large
    return min(raw, settings.history_page_max)


def _optional_count(raw: object, name: str) -> int | None:
    if raw is None:
        return None
    if not whole_number(raw) or not 0 <= raw <= MAX_COUNT:
        raise BadRequest(f"'{name}' must be a whole number from 0 to {MAX_COUNT}")
    return raw


def _text(payload: Mapping[str, object], name: str) -> str:
    if name not in payload:
        raise BadRequest(f"the payload has no '{name}'")
    value = payload[name]
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be text, not {_kind(value)}")
    return value


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
