"""Fuzz the live server: every Socket.IO event and HTTP endpoint, fed what no client sends.

    python -m chatkit.live.tools.fuzz    # starts its own server on loopback, prints the counts

The cases are made, not drawn at random, so every run sends the same ones: each
field of each event set to each hostile value (wrong types, empty, huge, a lone
surrogate, NUL, an ANSI escape, a bidi override, deep nesting), payloads that are
not objects, events nobody defined, frames that are not Socket.IO at all, and
for each HTTP route every method with raw bodies from broken UTF-8 to JSON nested
100,000 deep, signed in and not, with hostile path parts.

A case passes when the server answers it as a refusal a client can read (an
error ack or a 4xx with a JSON reason), or carries it out when it happens to be
valid, and the connection lives on; nothing may get a 5xx, go unanswered, or
leave a traceback in the server's log. At the end a plain send must still work.
The fuzz only ever talks to a server it started, or one it is handed, on loopback.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import websockets.asyncio.client

from chatkit.live.tools.process import HOST, ServerProcess

WAIT_S = 10.0
DEEP = 20_000
"""Nesting deep enough to break a recursive decoder, in a frame under the 64 KiB limit."""

HOSTILE: list[object] = [
    None,
    True,
    0,
    -1,
    2**70,
    1.5,
    "",
    " ",
    "x" * 3000,
    "lone \ud800",
    "nul \x00",
    "\x1b[2J\x1b[31mansi",
    "bidi \u202eevil",
    "private-doesnotexist",
    "Private-doesnotexist",
    "private\u2010lookalike",
    "../../etc/passwd",
    [],
    {},
    ["general"],
    {"$gt": ""},
    [
        [
            [
                [
                    [
                        [
                            [
                                [
                                    [
                                        [
                                            [
                                                [
                                                    [
                                                        [
                                                            [
                                                                [
                                                                    [
                                                                        [
                                                                            [
                                                                                [
                                                                                    [
                                                                                        [
                                                                                            [
                                                                                                [
                                                                                                    [
                                                                                                        [
                                                                                                            [
                                                                                                                [
                                                                                                                    [
                                                                                                                        [
                                                                                                                            [
                                                                                                                                [
                                                                                                                                    [
                                                                                                                                        [
                                                                                                                                            [
                                                                                                                                                [
                                                                                                                                                    [
                                                                                                                                                        [
                                                                                                                                                            [
                                                                                                                                                                [
                                                                                                                                                                    [
                                                                                                                                                                        [
                                                                                                                                                                            [
                                                                                                                                                                                [
                                                                                                                                                                                    [
                                                                                                                                                                                        [
                                                                                                                                                                                            [
                                                                                                                                                                                                [
                                                                                                                                                                                                    [
                                                                                                                                                                                                        [
                                                                                                                                                                                                            [
                                                                                                                                                                                                                [
                                                                                                                                                                                                                    [
                                                                                                                                                                                                                        []
                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                ]
                                                                                                                                                                                                            ]
                                                                                                                                                                                                        ]
                                                                                                                                                                                                    ]
                                                                                                                                                                                                ]
                                                                                                                                                                                            ]
                                                                                                                                                                                        ]
                                                                                                                                                                                    ]
                                                                                                                                                                                ]
                                                                                                                                                                            ]
                                                                                                                                                                        ]
                                                                                                                                                                    ]
                                                                                                                                                                ]
                                                                                                                                                            ]
                                                                                                                                                        ]
                                                                                                                                                    ]
                                                                                                                                                ]
                                                                                                                                            ]
                                                                                                                                        ]
                                                                                                                                    ]
                                                                                                                                ]
                                                                                                                            ]
                                                                                                                        ]
                                                                                                                    ]
                                                                                                                ]
                                                                                                            ]
                                                                                                        ]
                                                                                                    ]
                                                                                                ]
                                                                                            ]
                                                                                        ]
                                                                                    ]
                                                                                ]
                                                                            ]
                                                                        ]
                                                                    ]
                                                                ]
                                                            ]
                                                        ]
                                                    ]
                                                ]
                                            ]
                                        ]
                                    ]
                                ]
                            ]
                        ]
                    ]
                ]
            ]
        ]
    ],
]
"""Values every field is set to, one at a time."""

EVENTS: dict[str, dict[str, object]] = {
    "login": {"user": "someone-else", "password": "not the password"},
    "logout": {},
    "join": {"chat_id": "general"},
    "leave": {"chat_id": "elsewhere"},
    "create_chat": {},
    "invite": {"chat_id": "general", "user": "fuzzer"},
    "new_invite": {"chat_id": "general"},
    "accept_invite": {"code": "no-such-code"},
    "decline_invite": {"chat_id": "private-nosuchinvite"},
    "invites": {},
    "send": {"chat_id": "general", "client_id": "fuzz", "body": "hello"},
    "typing": {"chat_id": "general", "typing": True},
    "history": {"chat_id": "general", "after": 0, "before": 10, "limit": 5},
    "faults": {"admin_token": "guess", "refuse": 1.0},
}
"""Every event the server has, with a well-formed payload to spoil field by field."""

NOT_OBJECTS: list[str] = ["null", "5", '"text"', "[]", "[1, 2]", "true"]
UNKNOWN_EVENTS = [
    "",
    "sned",
    "x" * 1000,
    "connect",
    "disconnect",
    "*",
    "message",
    "__proto__",
    "é",
]
RAW_FRAMES = [
    "",
    "4",
    "42",
    "42[",
    "42{}",
    "42[]",
    "42[5]",
    "42[null]",
    '42["send"',
    "4299999999999999999999[]",
    "43[]",
    "44",
    "45",
    "46",
    "47",
    "49",
    "4/nowhere,1[]",
    "9",
    "x",
    "42" + "[" * DEEP + "]" * DEEP,
    "4" + "[" * DEEP + "]" * DEEP,
    "3" + "{" * DEEP,
    "2probe",
    "421[" + '{"a":' * DEEP + "1" + "}" * DEEP + "]",
    "421" + json.dumps(["send", {"pad": "x" * 70_000}]),
]
"""Frames that are not Socket.IO events a client library would send."""
ANSWERED_FRAMES: list[tuple[str, list[str | bytes]]] = [
    ("the catch-all's name", ['427["*", {}]']),
    ("binary data", ['451-7["send",{"_placeholder":true,"num":0}]', b"\x00\x01binary"]),
    (
        "two binary attachments",
        [
            '452-7["send",{"a":{"_placeholder":true,"num":0},"b":{"_placeholder":true,"num":1}}]',
            b"\xff" * 16,
            b"\xfe",
        ],
    ),
]
"""Frames with ack id 7 that the official clients can send: each must get that ack, once."""
POLLING_BODIES: list[bytes] = [
    b"2",
    b"6",
    b"0",
    b"3",
    b"x",
    b"",
    b"\x1e",
    b"b!!!",
    b"bAAA",
    b"\xff\xfe",
    b"d=40",
    b"40\x1e2",
    b'40\x1e42["*",{}]',
    b'40\x1e451-["send",{"_placeholder":true,"num":0}]\x1ebAQI=',
    b"40" + b"\x1e42[]" * 40,
    b"4" + b"[" * DEEP + b"]" * DEEP,
]
"""Polling POST bodies, each to a fresh Engine.IO session: a client's PING, packets no
client sends, broken base64 and UTF-8, too many packets, and events as above."""
CONFUSABLE_CHATS = [
    "Private-doesnotexist",
    "PRIVATE-x",
    "private\u2010doesnotexist",
    "private\u2011x",
    "privatechat",
    "General",
    "general\u200b",
    "\uff47\uff45\uff4e\uff45\uff52\uff41\uff4c",
    "g\u00e9n\u00e9ral",
    "ge\u0301neral",
    "-general",
    "general\u00a0",
]
"""Chat names that look like another chat or like a private id: no join may take them."""
FOREIGN_HOSTS = [
    "evil.example",
    "evil.example:80",
    "127.0.0.1.evil.example",
    "localhost.evil.example",
    "xn--lcalhost-9za",
]
"""``Host`` headers of names the server was not given (DNS rebinding, redirect poisoning)."""
OWN_HOSTS = ["localhost", "LOCALHOST", "127.0.0.1", "localhost."]
ADMIN_TOKEN_VARIANTS: list[Callable[[str], str]] = [
    lambda token: token + " ",
    lambda token: " " + token,
    lambda token: token + "\n",
    lambda token: token[:-1],
    lambda token: token.swapcase(),
    lambda token: token + token,
]
"""The admin token changed a little: not one of them is the admin token."""

ROUTES: dict[str, tuple[str, ...]] = {
    "/health": ("GET",),
    "/api/users": ("GET",),
    "/api/login": ("POST",),
    "/api/logout": ("POST",),
    "/api/chats": ("POST",),
    "/api/chats/general/join": ("POST",),
    "/api/chats/general/leave": ("POST",),
    "/api/chats/general/invite": ("POST",),
    "/api/chats/general/invite-code": ("POST",),
    "/api/chats/general/messages": ("GET", "POST"),
    "/api/chats/private-doesnotexist/messages": ("GET", "POST"),
    "/api/invites": ("POST",),
    "/api/faults": ("GET", "PUT"),
    "/api/chats/%00/messages": ("GET", "POST"),
    "/api/chats/%ED%A0%80/messages": ("GET", "POST"),
    "/api/chats/" + "x" * 500 + "/messages": ("GET", "POST"),
    "/api/chats/general/messages?limit=-1&after=%ff&before=1e9": ("GET",),
    "/api/nowhere": ("GET", "POST"),
    "/socket.io/?EIO=4&transport=polling": ("GET", "POST"),
    "/socket.io/?EIO=4&transport=polling&sid=nosuch": ("GET", "POST"),
    "/socket.io/?EIO=3&transport=websocket": ("GET",),
}
"""Every route, and the methods it takes: those get every body, the others one."""
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
POLLING = "/socket.io/?EIO=4&transport=polling"
POLLING_PATHS = (POLLING, "/socket.io?EIO=4&transport=polling")
"""Engine.IO answers its path with the slash and without: every guard must hold on both."""
CONNECT_AUTH = ['{"token":"\\ud800"}', '{"token":"' + "x" * 5_000 + '"}', '{"token":5}']
"""Socket.IO CONNECT packets with auth data no server made: each connects, not signed in."""
_OWN_FORMAT = ("/health", "/socket.io/")
"""Routes whose refusals are not the API's JSON: Engine.IO answers in its own protocol."""
BODIES: list[bytes] = [
    b"",
    b"not json",
    b"\xff\xfe\x00",
    b"[]",
    b'"text"',
    b'{"user": "\\ud800", "password": "\\u0000", "body": "\\u001b[31m", "client_id": 5}',
    b"[" * DEEP + b"]" * DEEP,
    b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    b'{"body": "' + b"x" * 70_000 + b'"}',
    b"[" * 200_000 + b"]" * 200_000,
    b'{"user": "alice", "password": "x", "n": ' + b"1" * 5_000 + b"}",
]


@dataclass
class Report:
    """What the fuzz saw: how many cases, how each was answered, and what went wrong."""

    cases: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def fail(self, case: str, what: str) -> None:
        self.failures.append(f"{case}: {what}")

    def summary(self) -> str:
        parts = ", ".join(f"{kind} {count}" for kind, count in sorted(self.cases.items()))
        answers = ", ".join(f"{kind} {count}" for kind, count in self.answers.most_common())
        verdict = "no failures" if not self.failures else f"{len(self.failures)} FAILED"
        return f"fuzz: {self.total} cases ({parts}); answers: {answers}; {verdict}"


def socketio_cases() -> Iterator[tuple[str, str]]:
    """(label, the JSON list of an event) for every spoiled event."""
    for event, payload in EVENTS.items():
        yield f"{event} well-formed", json.dumps([event, payload])
        for name in payload:
            for value in HOSTILE:
                spoiled = dict(payload) | {name: value}
                yield f"{event}.{name}={_short(value)}", json.dumps([event, spoiled])
            yield (
                f"{event} without {name}",
                json.dumps([event, {k: v for k, v in payload.items() if k != name}]),
            )
        for raw in NOT_OBJECTS:
            yield f"{event} payload {raw}", f'["{event}", {raw}]'
        yield f"{event} two payloads", json.dumps([event, payload, payload])
        yield f"{event} no payload", json.dumps([event])
    for event in UNKNOWN_EVENTS:
        yield f"unknown event {_short(event)}", json.dumps([event, {}])


class _Connection:
    """A Socket.IO connection spoken by hand, as a fuzzer must."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws: websockets.asyncio.client.ClientConnection | None = None
        self.next_id = 0

    async def open(self, login: dict[str, str]) -> str:
        """Connect and sign in (``{"user", "password"}`` or ``{"token"}``); the token."""
        self.ws = await websockets.asyncio.client.connect(
            self.url, max_size=None, compression=None, ping_interval=None
        )
        await self.frame()  # engine.io open
        await self.ws.send("40")
        await self.frame()  # socket.io connect
        reply = await self.call(json.dumps(["login", login]))
        if not isinstance(reply, dict) or reply.get("ok") is not True:
            raise RuntimeError(f"the fuzzer could not sign in: {reply}")
        return str(reply["token"])

    async def frame(self) -> str:
        assert self.ws is not None
        async with asyncio.timeout(WAIT_S):
            while True:
                data = await self.ws.recv()
                text = data if isinstance(data, str) else data.decode()
                if text == "2":  # engine.io ping
                    await self.ws.send("3")
                    continue
                return text

    async def call(self, body: str) -> object:
        """Emit ``body`` with an ack id; the ack's first value."""
        self.next_id += 1
        prefix = f"43{self.next_id}"
        assert self.ws is not None
        await self.ws.send(f"42{self.next_id}{body}")
        while True:
            text = await self.frame()
            if text.startswith(prefix):
                values = json.loads(text[len(prefix) :])
                return values[0] if isinstance(values, list) and values else None

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def fuzz_socketio(url: str, user: str, password: str, report: Report) -> None:
    account = {"user": user, "password": password}
    connection = _Connection(url)
    token = await connection.open(account)
    try:
        for label, body in socketio_cases():
            report.cases["socket.io event"] += 1
            try:
                reply = await connection.call(body)
            except (TimeoutError, websockets.exceptions.ConnectionClosed) as error:
                report.fail(label, f"no answer ({type(error).__name__})")
                await connection.close()
                connection = _Connection(url)
                token = await connection.open(account)
                continue
            if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
                report.fail(label, f"an answer that is not an ok/error object: {reply!r:.80}")
                continue
            code = "ok" if reply["ok"] else str(reply.get("code"))
            report.answers[code] += 1
            if code == "internal":
                report.fail(label, "the server hit an unexpected error")
            if label.startswith("logout") and reply["ok"]:  # signed out: sign in again
                await connection.close()
                connection = _Connection(url)
                token = await connection.open(account)
        for raw in RAW_FRAMES:
            report.cases["raw frame"] += 1
            await _raw_frame(url, {"token": token}, raw, report)
        for label, frames in ANSWERED_FRAMES:
            await _answered_frame(url, {"token": token}, label, frames, report)
    finally:
        await connection.close()


async def _answered_frame(
    url: str, login: dict[str, str], label: str, frames: list[str | bytes], report: Report
) -> None:
    """Frames asking for ack 7: the ack comes, saying no, and the connection lives."""
    report.cases["answered frame"] += 1
    connection = _Connection(url)
    await connection.open(login)
    try:
        assert connection.ws is not None
        for frame in frames:
            await connection.ws.send(frame)
        while not (text := await connection.frame()).startswith("437"):
            if text.startswith("42"):  # an error event instead of (or besides) the ack
                report.fail(label, f"an event before the ack: {text:.80}")
        reply = json.loads(text[3:])[0]
        if not isinstance(reply, dict) or reply.get("ok") is not False:
            report.fail(label, f"not a refusal: {reply!r:.80}")
        else:
            report.answers[str(reply.get("code"))] += 1
        alive = await connection.call(json.dumps(["typing", {"chat_id": "general"}]))
        if not isinstance(alive, dict):
            report.fail(label, "the connection stopped answering")
    except (TimeoutError, websockets.exceptions.ConnectionClosed) as error:
        report.fail(label, f"no answer ({type(error).__name__})")
    finally:
        await connection.close()


async def fuzz_names_and_tokens(url: str, token: str, admin_token: str, report: Report) -> None:
    """Look-alike chat names are refused, and so is every near miss of the admin token."""
    connection = _Connection(url)
    await connection.open({"token": token})
    try:
        for name in CONFUSABLE_CHATS:
            report.cases["look-alike chat"] += 1
            reply = await connection.call(json.dumps(["join", {"chat_id": name}]))
            if not isinstance(reply, dict) or reply.get("ok") is not False:
                report.fail(f"join {name!a}", f"taken as a chat name: {reply!r:.80}")
            else:
                report.answers[str(reply.get("code"))] += 1
        for variant in ADMIN_TOKEN_VARIANTS:
            report.cases["admin token near miss"] += 1
            near = variant(admin_token)
            reply = await connection.call(json.dumps(["faults", {"admin_token": near}]))
            if not isinstance(reply, dict) or reply.get("code") != "not_host":
                report.fail(f"faults with {near!a:.12}…", f"accepted: {reply!r:.80}")
    finally:
        await connection.close()


def fuzz_polling(port: int, report: Report) -> None:
    """Every polling body is answered (never a 5xx, never left hanging), on Engine.IO's
    path with its slash and without; and no poll is answered as a script (JSONP)."""
    for path in POLLING_PATHS:
        for body in POLLING_BODIES:
            report.cases["polling body"] += 1
            label = f"polling POST {path[:10]} {_short(body)}"
            try:
                status, opened = _raw_request(port, "GET", path, b"")
                sid = json.loads(opened[1:])["sid"]
                status, _ = _raw_request(port, "POST", f"{path}&sid={sid}", body)
            except (OSError, ValueError, KeyError) as error:
                report.fail(label, f"no answer ({type(error).__name__})")
                continue
            report.answers[f"HTTP {status}"] += 1
            if status >= 500:
                report.fail(label, f"HTTP {status}")
        report.cases["JSONP poll"] += 1
        status, _ = _raw_request(port, "GET", f"{path}&j=0", b"")
        report.answers[f"HTTP {status}"] += 1
        if status != 400:
            report.fail(f"JSONP GET {path[:10]}", f"HTTP {status}, not refused")


async def fuzz_connect_auth(url: str, report: Report) -> None:
    """A CONNECT with a token no server made is answered: connected, not signed in."""
    for auth in CONNECT_AUTH:
        report.cases["connect auth"] += 1
        connection = _Connection(url)
        try:
            connection.ws = await websockets.asyncio.client.connect(
                connection.url, max_size=None, compression=None, ping_interval=None
            )
            await connection.frame()  # engine.io open
            await connection.ws.send("40" + auth)
            answer = await connection.frame()
        except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as error:
            report.fail(f"connect with {_short(auth)}", f"no answer ({type(error).__name__})")
            continue
        finally:
            await connection.close()
        report.answers["connected" if answer.startswith("40") else answer[:2]] += 1
        if not answer.startswith("40"):
            report.fail(f"connect with {_short(auth)}", f"answered {answer[:40]!r}")


def fuzz_hosts(port: int, admin_token: str, report: Report) -> None:
    """Foreign ``Host`` names get 421 (never a redirect); near misses of the admin token 403."""
    for host in FOREIGN_HOSTS + OWN_HOSTS:
        for path in ("/health", "/health/", "/api/nowhere/"):
            report.cases["host header"] += 1
            status, _ = _request(port, "GET", path, b"", None, host=host)
            label = f"GET {path} Host: {host}"
            report.answers[f"HTTP {status}"] += 1
            redirected_or_failed = 300 <= status < 400 or status >= 500
            if redirected_or_failed or (host in FOREIGN_HOSTS) != (status == 421):
                report.fail(label, f"HTTP {status}")
    for variant in ADMIN_TOKEN_VARIANTS:
        near = variant(admin_token)
        if near != near.rstrip():
            continue  # HTTP itself trims spaces after a header's value (RFC 9110, 5.5)
        report.cases["admin token near miss"] += 1
        status, _ = _request(port, "GET", "/api/faults", b"", near)
        if status != 403:
            report.fail("GET /api/faults with a near miss of the admin token", f"HTTP {status}")


async def _raw_frame(url: str, login: dict[str, str], raw: str, report: Report) -> None:
    """A frame that is no event: answered (ack or error event), and the connection lives."""
    connection = _Connection(url)
    await connection.open(login)
    label = f"raw frame {_short(raw)}"
    try:
        assert connection.ws is not None
        await connection.ws.send(raw)
        alive = await connection.call(json.dumps(["typing", {"chat_id": "general"}]))
        if not isinstance(alive, dict):
            report.fail(label, "the connection stopped answering")
        report.answers["connection lives"] += 1
    except (TimeoutError, websockets.exceptions.ConnectionClosed) as error:
        report.fail(label, f"the connection died ({type(error).__name__})")
    finally:
        await connection.close()


def fuzz_http(port: int, user: str, password: str, report: Report) -> None:
    token = _login(port, user, password)
    for route, methods in ROUTES.items():
        for method in METHODS:
            bodies = BODIES if method in methods and method != "GET" else BODIES[:1]
            for body in bodies:
                for auth in (None, "forged", token) if method in methods else (token,):
                    report.cases["http request"] += 1
                    label = f"{method} {route[:40]} body={_short(body)} auth={auth is not None}"
                    status, answer = _request(port, method, route, body, auth)
                    report.answers[f"HTTP {status}"] += 1
                    if route == "/api/logout" and status == 200:  # signed out: sign in again
                        token = _login(port, user, password)
                    if status >= 500:
                        report.fail(label, f"HTTP {status}")
                    elif status >= 400 and answer is None and not route.startswith(_OWN_FORMAT):
                        report.fail(label, f"HTTP {status} without a JSON reason")


def _raw_request(port: int, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=WAIT_S)
    try:
        connection.request(method, path, body=body or None)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _request(
    port: int, method: str, path: str, body: bytes, token: str | None, *, host: str | None = None
) -> tuple[int, object]:
    connection = http.client.HTTPConnection(HOST, port, timeout=WAIT_S)
    headers = {"Content-Type": "application/json"}
    if host is not None:
        headers["Host"] = host
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, None


async def run(server: ServerProcess) -> Report:
    """Fuzz a running ``server`` (one this process started, on loopback)."""
    report = Report()
    user = "fuzzer"
    password = server.account(user)
    await fuzz_socketio(server.url, user, password, report)
    await asyncio.to_thread(fuzz_http, server.port, user, password, report)
    token = await asyncio.to_thread(_login, server.port, user, password)
    await fuzz_names_and_tokens(server.url, token, server.admin_token, report)
    await asyncio.to_thread(fuzz_hosts, server.port, server.admin_token, report)
    await asyncio.to_thread(fuzz_polling, server.port, report)
    await fuzz_connect_auth(server.url, report)
    after = _Connection(server.url)
    await after.open({"user": user, "password": password})
    try:
        await after.call(json.dumps(["join", {"chat_id": "after-fuzz"}]))
        reply = await after.call(
            json.dumps(
                ["send", {"chat_id": "after-fuzz", "client_id": "last", "body": "still here"}]
            )
        )
        if not isinstance(reply, dict) or reply.get("ok") is not True:
            report.fail("a plain send after the fuzz", f"{reply!r:.80}")
    finally:
        await after.close()
    if "Traceback" in server.log.read_text():
        report.fail("server log", "a traceback")
    return report


def _login(port: int, user: str, password: str) -> str:
    body = json.dumps({"user": user, "password": password}).encode()
    status, answer = _request(port, "POST", "/api/login", body, None)
    if status != 200 or not isinstance(answer, dict):
        raise RuntimeError(f"the fuzzer could not sign in over HTTP ({status})")
    return str(answer["token"])


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:20]}…({len(text)})"


async def _main() -> int:
    with tempfile.TemporaryDirectory(prefix="chatkit-fuzz-") as folder:
        work = Path(folder)
        server = ServerProcess(work / "fuzz.sqlite3", work / "server.log", ["--rate", "0"])
        server.start()
        try:
            report = await run(server)
        finally:
            server.stop()
    print(report.summary())
    for failure in report.failures[:20]:
        print(f"  {failure}")
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
