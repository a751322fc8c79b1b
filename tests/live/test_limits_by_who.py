"""Limits by who and where, never by session: a forged ``X-Forwarded-For``, a new
address per guess, five sessions or a made-up token buy nothing."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from conftest import ServerFactory
from live_support import WAIT_S, ServerProcess, login

pytestmark = pytest.mark.timeout(90)

GUESS_BURST = 10
"""`ServerSettings.account_login_burst`: wrong passwords one account takes at once."""


def call(
    server: ServerProcess,
    method: str,
    path: str,
    body: object = None,
    *,
    token: str | None = None,
    source: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, object]]:
    """One HTTP request from the loopback address ``source``; its status and JSON."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=WAIT_S, source_address=(source, 0)
    )
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    try:
        data = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_guesses_from_many_addresses_meet_the_account_limit_even_with_rate_0(
    start_server: ServerFactory,
) -> None:
    server = start_server("--rate", "0")  # turns the request limits off, not the password one
    alice = server.account("alice")
    bob = server.account("bob")
    home = {"user": "alice", "password": alice}
    assert call(server, "POST", "/api/login", home, source="127.0.0.20")[0] == 200
    statuses = []
    for attempt in range(GUESS_BURST + 3):
        status, _ = call(
            server,
            "POST",
            "/api/login",
            {"user": "alice", "password": f"guess {attempt}"},
            headers={"X-Forwarded-For": f"198.51.100.{attempt}"},
            source=f"127.0.0.{2 + attempt % 3}",
        )
        statuses.append(status)
    assert statuses == [401] * GUESS_BURST + [429] * 3, statuses
    status, reply = call(server, "POST", "/api/login", {"user": "bob", "password": bob})
    assert status == 200 and reply["user"] == "bob", "alice's guesses locked bob out"
    assert call(server, "POST", "/api/login", home, source="127.0.0.21")[0] == 429
    status, reply = call(server, "POST", "/api/login", home, source="127.0.0.20")
    assert status == 200, "guesses from elsewhere locked alice out where she signs in"


def test_unknown_tokens_are_limited_by_the_peer_not_by_a_forged_header(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server("--rate", "0.01", "--rate-burst", "3")
    statuses = [
        call(
            server, "GET", "/api/users", token="made-up", headers={"X-Forwarded-For": f"10.0.0.{n}"}
        )[0]
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429], statuses
    other, _ = call(server, "GET", "/api/users", token="made-up", source="127.0.0.9")
    assert other == 401, "one address's made-up tokens limited another address"

    behind_proxy = start_server(
        "--rate",
        "0.01",
        "--rate-burst",
        "3",
        "--forwarded-allow-ips",
        "127.0.0.1",
        db=tmp_path / "behind-proxy.sqlite3",
    )
    statuses = [
        call(
            behind_proxy,
            "GET",
            "/api/users",
            token="made-up",
            headers={"X-Forwarded-For": f"10.0.0.{n}"},
        )[0]
        for n in range(5)
    ]
    assert statuses == [401] * 5, "a trusted proxy's clients were not told apart"


def test_every_session_of_an_account_shares_one_request_budget(
    start_server: ServerFactory,
) -> None:
    server = start_server("--rate", "0.01", "--rate-burst", "4")
    sessions = [login(server, "alice") for _ in range(3)]
    statuses = [
        call(server, "GET", "/api/users", token=token)[0] for token in sessions for _ in range(2)
    ]
    assert statuses == [200] * 4 + [429] * 2, statuses
    assert call(server, "GET", "/api/users", token=login(server, "bob"))[0] == 200
