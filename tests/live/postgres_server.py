"""A real PostgreSQL for the tests: initdb and postgres in a temporary folder, on a free
loopback port (and a unix socket in that folder), stopped after.

Nothing is fixed: each pytest process (each xdist worker too) gets its own folder and
port, and each test its own database in it (`PostgresServer.new_database`), so tests
never see each other's rows. PostgreSQL refuses to run as root; under root (CI) the
server runs as the ``postgres`` system user that the distribution's package creates.
``fsync`` is off: the tests check what the chat server promises its clients (an
acknowledged message is committed), not the disk under PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from chatkit.live.tools.process import free_port

INSTALL_HINT = (
    "PostgreSQL is not installed: these tests need its initdb and postgres "
    "(on Debian or Ubuntu: sudo apt-get install postgresql)"
)
START_TIMEOUT_S = 30
SUPERUSER = "chatkit"


def find_binaries() -> Path | None:
    """The folder with initdb and postgres: the newest of Debian's, or the PATH's; None
    without one, or as root without the ``postgres`` user to run it as."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: [int(part) for part in path.parts[-3].split(".") if part.isdigit()],
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    """One PostgreSQL cluster, owned by the test session that started it."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="chatkit-pg-"))
        self.data = self.folder / "data"
        self.port = 0
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as_user = [
                "setpriv",
                f"--reuid={owner.pw_uid}",
                f"--regid={owner.pw_gid}",
                "--clear-groups",
            ]

    def start(self) -> PostgresServer:
        """initdb, then pg_ctl start, which returns once the server accepts connections."""
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        self.port = free_port()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.data),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
        )
        return self

    def stop(self) -> None:
        """Stop at once (the data is thrown away with the folder)."""
        if self.port:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
            self.port = 0
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = "chat_" + secrets.token_hex(6)

        async def create() -> None:
            db = await asyncpg.connect(self.url())
            try:
                await db.execute(f'CREATE DATABASE "{name}"')
            finally:
                await db.close()

        asyncio.run(create())
        return self.url(name)

    def _run(self, program: str, *args: str) -> None:
        command: Sequence[str] = [*self._as_user, str(self.binaries / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.folder, check=False)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr}{tail}")
