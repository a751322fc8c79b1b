"""Redis is a link between trusted servers, not a door: what someone else writes there does nothing.

Against real ``chatkit serve --redis`` processes and a real ``redis-server``:

- a message published on the servers' channel "from alice" without the servers'
  seal (unsigned, sealed with another secret, or spoken in python-socketio's own
  format on its old channel) reaches nobody, and is logged;
- a fault change published there, or written into the switches' key, changes no
  server's switches (a server that starts later does not take them either);
- a server started with ``--redis`` but no cluster secret refuses to start and says
  how to make one; the secret never shows in a log;
- Redis with a password: the password in the URL works, a wrong one is refused
  with a message that does not show it; Redis over TLS (``rediss://``) works, and
  plain text to it is refused.

Nothing sleeps: the forgeries are published before a real message on the same
channel, and Redis delivers a channel's messages in order, so once the real one
arrived the forgeries have been dropped (and logged) already.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from conftest import ServerFactory
from live_support import Member, ServerProcess, cluster_secret, get_json, server_log

from chatkit.live.server.cluster.redis_link import redis_database
from chatkit.live.server.cluster.secret import MAKE_ONE, Seal, secret_from_file
from chatkit.live.tools.process import free_port
from chatkit.live.tools.redis_process import RedisProcess
from chatkit.model import Status

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

DROPPED = "that no server of this cluster sealed"


def forged_message(chat_id: str, seq: int, body: str) -> dict[str, object]:
    return {
        "kind": "message",
        "from": "someone",
        "message": {
            "id": 10_000 + seq,
            "chat_id": chat_id,
            "seq": seq,
            "client_id": f"forged-{seq}",
            "author": "alice",
            "body": body,
            "created_at": 0,
        },
    }


def forged_faults() -> dict[str, object]:
    return {
        "kind": "faults",
        "from": "someone",
        "version": 1_000_000,
        "faults": {
            "refuse": 1.0,
            "latency_ms": 0,
            "lose_acks": 0.0,
            "echo_first": False,
            "seed": None,
            "on_http": False,
        },
        "restart_dice": False,
    }


async def message_crosses(
    start_server: ServerFactory, url: str, body: str
) -> tuple[ServerProcess, ServerProcess]:
    """Two servers on the Redis at ``url``: alice's message on one reaches bob on the other."""
    first = start_server("--redis", url)
    second = start_server("--redis", url)
    second.passwords = first.passwords
    alice, bob = Member(first, "alice"), Member(second, "bob")
    try:
        await alice.start("general")
        await bob.start("general")
        sent = await alice.send("general", body)
        assert sent.status is Status.SENT
        await bob.until("the message crossed", lambda: len(bob.echoes) == 1)
    finally:
        await alice.close()
        await bob.close()
    return first, second


async def test_forged_packets_on_redis_reach_nobody_and_are_logged(
    start_server: ServerFactory, redis_url: str, tmp_path: Path
) -> None:
    first = start_server("--redis", redis_url, "--rate", "0")
    second = start_server("--redis", redis_url, "--rate", "0")
    second.passwords = first.passwords
    alice = Member(first, "alice")
    bob = Member(second, "bob")
    db = redis_database(redis_url)
    channel = f"chatkit:{db}:cluster"
    attacker = redis.Redis.from_url(redis_url)
    wrong_secret = Seal(b"x" * 43, channel)
    try:
        await alice.start("general")
        await bob.start("general")
        attacker.publish(channel, json.dumps(forged_message("general", 1, "send me your password")))
        attacker.publish(
            channel, wrong_secret.seal(json.dumps(forged_message("general", 2, "x")).encode())
        )
        attacker.publish(channel, json.dumps(forged_faults()))
        attacker.publish(channel, wrong_secret.seal(json.dumps(forged_faults()).encode()))
        attacker.set(f"chatkit:{db}:faults", json.dumps(forged_faults()))
        emit = {  # the audit's forgery: python-socketio's own format, on its old channel
            "method": "emit",
            "event": "new_message",
            "data": [forged_message("general", 3, "x")["message"]],
            "namespace": "/",
            "room": "chat:general",
            "host_id": "someone",
        }
        attacker.publish(f"chatkit:{db}:socketio", json.dumps(emit))

        real = await alice.send("general", "the real one")
        assert real.status is Status.SENT
        await bob.until("the real message is in", lambda: len(bob.echoes) >= 1)
        await alice.until("her own echo is in", lambda: len(alice.echoes) >= 1)
        assert [m.client_id for m in bob.echoes] == [real.client_id], "a forgery was delivered"
        assert [m.client_id for m in alice.echoes] == [real.client_id]
        for server in (first, second):
            faults = get_json(f"{server.url}/api/faults", token=server.admin_token)
            assert faults["faults"]["refuse"] == 0.0, "a forged fault change took effect"  # type: ignore[index]
        assert DROPPED in server_log(second) and "must not be reachable by users" in server_log(
            second
        )

        later = start_server("--redis", redis_url)  # reads the (forged) key at start
        faults = get_json(f"{later.url}/api/faults", token=later.admin_token)
        assert faults["faults"]["refuse"] == 0.0, "a server took forged switches from the key"  # type: ignore[index]
        assert DROPPED in server_log(later)
        secret = cluster_secret(tmp_path).read_text().strip()
        for server in (first, second, later):
            assert secret not in server_log(server), "the cluster secret was logged"
    finally:
        attacker.close()
        await alice.close()
        await bob.close()


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "chatkit.live", "--port", "0", "--db", str(tmp_path / "c.db")]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=25)


@pytest.mark.timeout(30)
def test_a_server_with_redis_but_no_secret_refuses_and_says_how_to_make_one(
    tmp_path: Path, redis_url: str
) -> None:
    done = serve(tmp_path, "--redis", redis_url)
    assert done.returncode == 2
    assert MAKE_ONE in done.stderr and "--cluster-secret-file" in done.stderr
    assert "Traceback" not in done.stderr
    short = tmp_path / "short.secret"
    short.write_text("hunter2\n")
    done = serve(tmp_path, "--redis", redis_url, "--cluster-secret-file", str(short))
    assert done.returncode == 2 and "shorter than" in done.stderr
    assert "hunter2" not in done.stderr, "the secret was shown"


def test_the_secret_maker_writes_a_private_file_once(tmp_path: Path) -> None:
    path = tmp_path / "cluster.secret"
    made = subprocess.run(
        [sys.executable, "-m", "chatkit.live.server.cluster.secret", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert made.returncode == 0, made.stderr
    assert path.stat().st_mode & 0o777 == 0o600
    secret = secret_from_file(path)
    assert secret.decode() not in made.stdout
    again = subprocess.run(
        [sys.executable, "-m", "chatkit.live.server.cluster.secret", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert again.returncode == 1 and secret_from_file(path) == secret, "a secret was overwritten"


def test_a_seal_opens_only_its_own_channel_and_secret() -> None:
    secret = b"s" * 43
    sealed = Seal(secret, "chatkit:1:cluster").seal(b'{"kind": "typing"}')
    assert Seal(secret, "chatkit:1:cluster").open(sealed) == b'{"kind": "typing"}'
    assert Seal(secret, "chatkit:2:cluster").open(sealed) is None, "opened on another database"
    assert Seal(b"t" * 43, "chatkit:1:cluster").open(sealed) is None, "opened with another secret"
    tampered = sealed.replace(b"typing", b"faults")
    assert Seal(secret, "chatkit:1:cluster").open(tampered) is None, "a changed body opened"
    assert Seal(secret, "chatkit:1:cluster").open(b'{"kind": "typing"}') is None
    assert "s" * 43 not in repr(Seal(secret, "c"))


async def test_redis_with_a_password_works_and_a_wrong_one_is_refused_unshown(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    if not RedisProcess.installed():
        pytest.skip("redis-server is not installed")
    folder = tmp_path / "redis"
    folder.mkdir()
    password = "correct horse battery staple"
    queue = RedisProcess(folder, password=password).start()
    try:
        url = queue.url(0)
        first, second = await message_crosses(start_server, url, "through a Redis with a password")
        wrong = url.replace(password, "not-the-password")
        secret = cluster_secret(tmp_path)
        done = serve(tmp_path, "--redis", wrong, "--cluster-secret-file", str(secret))
        assert done.returncode == 2 and "refused the user or password" in done.stderr
        assert "not-the-password" not in done.stderr and "***" in done.stderr
        nobody = f"redis://:{password}@127.0.0.1:{free_port()}/0"
        done = serve(tmp_path, "--redis", nobody, "--cluster-secret-file", str(secret))
        assert done.returncode == 2 and password not in done.stderr
        for server in (first, second):
            assert password not in server_log(server)
    finally:
        queue.stop()


async def test_redis_over_tls_carries_messages_and_plain_text_is_refused(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    if not RedisProcess.installed() or shutil.which("openssl") is None:
        pytest.skip("redis-server and openssl are needed")
    cert, key = tmp_path / "redis-cert.pem", tmp_path / "redis-key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    folder = tmp_path / "redis"
    folder.mkdir()
    queue = RedisProcess(folder, tls=(cert, key)).start()
    try:
        url = queue.url(0)
        assert url.startswith("rediss://")
        await message_crosses(start_server, url, "through Redis over TLS")
        plain = f"redis://127.0.0.1:{queue.port}/0"
        secret = cluster_secret(tmp_path)
        done = serve(tmp_path, "--redis", plain, "--cluster-secret-file", str(secret))
        assert done.returncode == 2 and "no Redis answers" in done.stderr
    finally:
        queue.stop()
