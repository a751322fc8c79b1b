"""Fixtures for the TUI tests: live servers started and stopped around each test."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from tui_support import ServerFactory, ServerProcess


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """``start_server("--echo-first", port=...)``: a running server (on a free port unless
    one is given), with ``accounts`` (name: password) made before it starts; all are
    stopped after the test."""
    started: list[ServerProcess] = []

    def start(
        *args: str, port: int = 0, accounts: Mapping[str, str] | None = None
    ) -> ServerProcess:
        index = len(started)
        server = ServerProcess(
            tmp_path / f"chat-{index}.sqlite3", tmp_path / f"server-{index}.log", list(args)
        )
        for user, password in (accounts or {}).items():
            server.account(user, password)
        started.append(server)
        return server.start(port=port)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def anyio_backend() -> str:
    """The async tests here run under anyio's pytest plugin, on asyncio."""
    return "asyncio"
