"""A real ``redis-server`` for the tests: on a free loopback port, in a folder of its own.

Started once per test session (per pytest-xdist worker: each worker its own) and
stopped at the end. Nothing is saved to disk. Each test gets a database number of
its own (`RedisServer.url`), and the kit names its Redis keys and channels after
that number, so servers of one test never hear those of another.

Without ``redis-server`` on the PATH the tests that need it are skipped, with a
line saying how to install it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from chatkit.live.tools.redis_process import INSTALL, RedisProcess

DATABASES = 1024
"""Database numbers a session's tests may use (one each)."""


class RedisServer:
    """The session's redis-server, handing each test a database of its own."""

    def __init__(self, folder: Path) -> None:
        self.process = RedisProcess(folder, databases=DATABASES)
        self._databases = itertools.count(1)

    def start(self) -> RedisServer:
        if not RedisProcess.installed():
            pytest.skip(INSTALL)
        self.process.start()
        return self

    def url(self) -> str:
        """A Redis URL with a database number no other test of this session uses."""
        db = next(self._databases)
        if db >= DATABASES:
            raise RuntimeError(f"more than {DATABASES - 1} tests asked for a Redis database")
        return self.process.url(db)

    def stop(self) -> None:
        self.process.stop()
