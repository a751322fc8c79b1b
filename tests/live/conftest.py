"""Fixtures for the live tests: servers started and stopped around each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from live_support import ServerProcess, cluster_secret
from postgres_server import INSTALL_HINT, PostgresServer, find_binaries
from redis_server import RedisServer


class ServerFactory(Protocol):
    """What the `start_server` fixture yields: call it for a running server."""

    def __call__(self, *args: str, db: Path | str | None = None) -> ServerProcess: ...


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """``start_server("--echo-first", db=...)``: a running server; all are stopped after."""
    started: list[ServerProcess] = []

    def start(*args: str, db: Path | str | None = None) -> ServerProcess:
        logs = tmp_path / f"logs-{len(started)}"
        logs.mkdir()
        if "--redis" in args and "--cluster-secret-file" not in args:
            args = (*args, "--cluster-secret-file", str(cluster_secret(tmp_path)))
        server = ServerProcess(db or tmp_path / "chat.sqlite3", logs, list(args))
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the session (each xdist worker its own); skips without one."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """``--redis`` for this test's servers: a database (and channels) of its own."""
    return redis_server.url()


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


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """The servers' ``--db``, once each way: None for the test's own SQLite file, or a
    fresh PostgreSQL database's URL. A test that asks for it runs on both stores."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where an account store lives, once each way: a SQLite file of the test's own, or a
    fresh PostgreSQL database's URL (for tests that open stores without a server)."""
    if request.param == "sqlite":
        return tmp_path / "accounts.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def anyio_backend() -> str:
    """The async tests here run under anyio's pytest plugin, on asyncio."""
    return "asyncio"
