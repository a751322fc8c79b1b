"""Fixtures for the live tests: servers started and stopped around each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live_support import ServerProcess

ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """``start_server("--echo-first", db=...)``: a running server; all are stopped after."""
    started: list[ServerProcess] = []

    def start(*args: str, db: Path | None = None) -> ServerProcess:
        logs = tmp_path / f"logs-{len(started)}"
        logs.mkdir()
        server = ServerProcess(db or tmp_path / "chat.sqlite3", logs, list(args))
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
