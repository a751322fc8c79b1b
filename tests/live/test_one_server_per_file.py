"""No silent split: servers on one SQLite file all share Redis (``--redis``), or one is alone.

Two processes on one file would each broadcast only to their own connections, so
members connected to different processes would silently miss each other's messages,
unless Redis carries the broadcasts between them. A second server without ``--redis``
refuses to start, and says why and what to pass; servers with it start side by side;
a server of either kind refuses to start beside one of the other kind.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from chatkit.live.server.cluster.secret import new_secret_file
from chatkit.live.storage.messages import SQLiteStore, StoreError
from chatkit.live.tools.process import free_port


async def open_store(path: Path, *, shared: bool = False) -> SQLiteStore:
    store = SQLiteStore(path, shared=shared)
    await store.open()
    return store


def test_a_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        database = tmp_path / "chat.db"
        first = await open_store(database)
        try:
            with pytest.raises(StoreError, match="already serving") as refused:
                await open_store(database)
            assert "--db" in str(refused.value) and "--redis redis://" in str(refused.value)
            assert "PostgreSQL" in str(refused.value)
            other = await open_store(tmp_path / "other.db")  # a file of its own is fine
            await other.close()
        finally:
            await first.close()
        again = await open_store(database)  # the lock went with the first store
        await again.close()

    asyncio.run(scenario())


@pytest.mark.timeout(30)
def test_chatkit_serve_on_a_served_file_exits_with_the_reason(tmp_path: Path) -> None:
    database = tmp_path / "chat.db"

    async def hold_and_try() -> subprocess.CompletedProcess[str]:
        first = await open_store(database)
        try:
            command = [sys.executable, "-m", "chatkit.live", "--port", "0", "--db", str(database)]
            return await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, timeout=25
            )
        finally:
            await first.close()

    done = asyncio.run(hold_and_try())
    assert done.returncode == 2
    assert "already serving" in done.stderr and "Traceback" not in done.stderr
    assert "--redis redis://" in done.stderr


def test_servers_that_share_redis_share_the_file_and_no_other_kind_joins_them(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        database = tmp_path / "chat.db"
        first = await open_store(database, shared=True)
        second = await open_store(database, shared=True)  # broadcasts cross: welcome
        try:
            with pytest.raises(StoreError, match="already serving") as refused:
                await open_store(database)  # alone, beside servers that share
            assert "--redis" in str(refused.value)
        finally:
            await first.close()
            await second.close()
        alone = await open_store(database)
        try:
            with pytest.raises(StoreError, match="without --redis") as refused:
                await open_store(database, shared=True)
            assert "Restart it with the same --redis" in str(refused.value)
        finally:
            await alone.close()

    asyncio.run(scenario())


@pytest.mark.timeout(30)
def test_chatkit_serve_without_its_redis_exits_with_what_to_do(tmp_path: Path) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # a port nothing listens on
    command = [sys.executable, "-m", "chatkit.live", "--port", "0", "--db", str(tmp_path / "c.db")]
    secret = tmp_path / "cluster.secret"
    new_secret_file(secret)
    command += ["--cluster-secret-file", str(secret)]
    done = subprocess.run([*command, "--redis", nobody], capture_output=True, text=True, timeout=25)
    assert done.returncode == 2
    assert f"no Redis answers at {nobody}" in done.stderr and "start redis-server" in done.stderr
    assert "Traceback" not in done.stderr
