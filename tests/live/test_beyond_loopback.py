"""Beyond loopback: the server says what it exposes, and speaks TLS when given a certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
from live_support import RawSocket, get_json

from chatkit.live.server.exposure import exposure_warning
from chatkit.live.tools.process import ServerProcess

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(45)]


def test_loopback_is_quiet_and_anything_else_is_spelled_out() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert exposure_warning(host, 5001, tls=False) is None, host
    plain = exposure_warning("0.0.0.0", 5001, tls=False)
    assert plain is not None
    assert "every network this machine is on" in plain and "unencrypted" in plain
    assert "--tls-cert" in plain and "admin token" in plain
    assert "--allowed-host" in plain, "the Host allowlist is not mentioned"
    encrypted = exposure_warning("192.0.2.7", 5001, tls=True)
    assert encrypted is not None and "encrypted (TLS)" in encrypted and "192.0.2.7" in encrypted


def test_serve_warns_before_it_listens_beyond_loopback(tmp_path: Path) -> None:
    # 192.0.2.1 is a documentation address no machine has: the warning comes first,
    # then binding fails, so nothing is ever exposed by this test.
    command = [sys.executable, "-m", "chatkit.live", "--host", "192.0.2.1", "--port", "0"]
    command += ["--db", str(tmp_path / "x.sqlite3")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("warning: listening on 192.0.2.1:0 — anyone who can reach")
    assert "Traceback" not in done.stderr


async def test_the_server_speaks_tls_with_a_certificate(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
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
    server = ServerProcess(
        tmp_path / "tls.sqlite3",
        tmp_path / "server.log",
        ["--tls-cert", str(cert), "--tls-key", str(key)],
    )
    trusted = ssl.create_default_context(cafile=str(cert))
    server.start()
    try:
        assert server.url.startswith("https://")
        assert get_json(f"{server.url}/health", tls=trusted)["status"] == "ok"
        reply = get_json(
            f"{server.url}/api/login",
            method="POST",
            body={"user": "ada", "password": server.account("ada")},
            tls=trusted,
        )
        assert reply["ok"] is True
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            get_json(server.url.replace("https://", "http://") + "/health")
        with pytest.raises(urllib.error.URLError):  # not trusted without the certificate
            get_json(f"{server.url}/health", tls=ssl.create_default_context())
        raw = await RawSocket(server.url, tls=trusted).connect()  # Socket.IO over WSS
        try:
            assert (await raw.call("login", {"token": reply["token"]}))["user"] == "ada"
        finally:
            await raw.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()
