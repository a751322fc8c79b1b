"""The client side of the live kit stands on its own: it shares only the wire format."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from chatkit.live.client.heard import HeardSeqs
from chatkit.live.client.transports import SocketIOTransport
from chatkit.live.wire import message_to_wire, ms_to_datetime
from chatkit.model import ServerMessage

SERVER_ONLY = ("sqlite3", "starlette", "uvicorn")
"""What only the server needs; a client that loads them drags the server along."""


def test_importing_the_client_transports_loads_none_of_the_server() -> None:
    # A fresh interpreter, so nothing this test session imported earlier counts.
    script = "import json, sys\nimport chatkit.live.client.transports\nprint(json.dumps(sorted(sys.modules)))\n"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
    )
    kit_modules = {name for name in loaded if name.startswith("chatkit.live.")}
    assert kit_modules == {
        "chatkit.live.client",
        "chatkit.live.client.heard",
        "chatkit.live.client.transports",
        "chatkit.live.wire",
        "chatkit.live.wire.codec",
    }
    assert [name for name in SERVER_ONLY if name in loaded] == []


def test_a_transport_takes_one_handler_an_event_and_refuses_an_unknown_event() -> None:
    transport = SocketIOTransport("http://127.0.0.1:9", "ada")

    def first(faults: dict[str, object]) -> None: ...

    def second(faults: dict[str, object]) -> None: ...

    transport.on("faults", first)
    transport.on("faults", second)
    assert transport.listeners.faults is second
    transport.on("faults", None)
    assert transport.listeners.faults is None
    with pytest.raises(ValueError, match="'messages'"):
        transport.on("messages", first)


def _stored(chat_id: str, seq: int) -> ServerMessage:
    return ServerMessage(
        seq, chat_id, seq, f"c{seq}", "ada", f"#{seq}", ms_to_datetime(1_000 + seq)
    )


@pytest.mark.anyio
async def test_a_message_a_second_server_delivers_again_is_handed_on_once() -> None:
    # A client whose server died hears, from its new server, a message the old one
    # delivered just before dying: the flow gets it once, and the repeat is counted.
    transport = SocketIOTransport("http://127.0.0.1:9", "ada")
    handed: list[tuple[str, int]] = []
    transport.on("message", lambda message: handed.append((message.chat_id, message.seq)))
    for chat_id, seq in [
        ("general", 5),
        ("general", 4),
        ("general", 5),
        ("design", 5),
        ("general", 4),
    ]:
        transport._on_new_message(message_to_wire(_stored(chat_id, seq)))
    await asyncio.sleep(0)  # messages are handed on one loop turn after they arrive
    assert handed == [("general", 5), ("general", 4), ("design", 5)]
    assert transport.heard.repeats == 2


def test_only_the_latest_seqs_of_a_chat_are_remembered() -> None:
    heard = HeardSeqs(remembered=3)
    assert [heard.first("general", seq) for seq in (1, 2, 3, 4)] == [True] * 4
    assert heard.first("general", 1), "1 was forgotten: a copy that late reaches the flow"
    assert not heard.first("general", 4) and heard.repeats == 1
