"""Fixtures for the live tests: servers started and stopped around each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live_support import ServerProcess
from postgres_server import INSTALL_HINT, PostgresServer, find_binaries

ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """``start_server("--echo-first", db=...)``: a running server; all are stopped after."""
    started: list[ServerProcess] = []

    def start(*args: str, db: Path | str | None = None) -> ServerProcess:
        logs = tmp_path / f"logs-{len(started)}"
        logs.mkdir()
        server = ServerProcess(db or tmp_path / "chat.sqlite3", logs, list(args))
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL for the session (each xdist worker its own); skips without one."""
    binaries = find_binaries()
    if binaries is None:
        pytest.skip(INSTALL_HINT)
    server = PostgresServer(binaries).start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh PostgreSQL database for this test: ``--db`` for its servers."""
    return postgres_server.new_database()
