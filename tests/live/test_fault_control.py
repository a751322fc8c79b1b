"""The fault switches are the host's: the admin token reads and turns them, nobody else can,
and everyone sees them."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest
import socketio  # type: ignore[import-untyped]
from conftest import ServerFactory
from live_support import WAIT_S, Member, get_json

from chatkit.live.cli import admin_note
from chatkit.live.client.transports import HttpTransport, RequestFailed
from chatkit.live.server.admin import token_from_file

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(45)]


async def test_only_the_admin_token_reads_or_turns_the_switches(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    faults = f"{server.url}/api/faults"
    bob = await Member(server, "bob").start("general")
    stranger = socketio.AsyncClient(reconnection=False)
    await stranger.connect(server.url, transports=["websocket"], wait_timeout=WAIT_S)
    try:
        for token in (None, "", "guess", bob.socket.token):
            for method, body in (("GET", None), ("PUT", {"refuse": 1.0})):
                reply = get_json(faults, method=method, body=body, token=token)
                assert (reply["_status"], reply["code"]) == (403, "not_host"), (token, reply)
        for payload in ({"refuse": 1.0}, {"admin_token": "guess", "refuse": 1.0}, {}):
            for caller in (stranger, bob.socket.sio):
                reply = await caller.call("faults", payload, timeout=WAIT_S)
                assert reply["code"] == "not_host", reply
        with pytest.raises(RequestFailed) as refused:
            await bob.socket.set_faults(latency_ms=60_000)
        assert refused.value.code == "not_host"
        assert "host" in refused.value.reason
        await bob.send("general", "still fast")  # nothing was switched on
        switches = get_json(faults, token=server.admin_token)["faults"]
        assert isinstance(switches, dict), switches
        assert switches["refuse"] == 0

        async with HttpTransport(server.url, admin_token=server.admin_token) as host:
            assert (await host.set_faults(echo_first=True))["echo_first"] is True
        await bob.until(
            "bob hears the switch change", lambda: bool(bob.socket.faults["echo_first"])
        )
        assert get_json(f"{server.url}/health")["faults_on"] is True
        carol = await Member(server, "carol").start("general")
        try:
            assert carol.socket.faults["echo_first"] is True, "a newcomer is not told"
        finally:
            await carol.close()
    finally:
        await bob.close()
        await stranger.disconnect()


def test_the_admin_token_file_is_made_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "admin-token"
    token, created = token_from_file(path)
    assert created and len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token_from_file(path) == (token, False)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError):
        token_from_file(tmp_path / "empty")
    printed = admin_note(argparse.Namespace(admin_token_file=None)).format(token="T0KEN")
    assert "T0KEN" in printed
    kept = admin_note(argparse.Namespace(admin_token_file=path)).format(token="T0KEN")
    assert "T0KEN" not in kept and str(path) in kept
