"""The client side of the live kit stands on its own: it shares only the wire format."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chatkit.live.client.transports import SocketIOTransport

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
