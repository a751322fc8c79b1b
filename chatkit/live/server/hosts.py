"""The names a client may reach the server by: a ``Host`` allowlist.

A browser on a learner's machine can be made to talk to a server on loopback
through a name an attacker controls (DNS rebinding): the request arrives from the
learner's own machine, but its ``Host`` header names the attacker's domain. And an
answer built from the ``Host`` header (a redirect, say) sends a client wherever
the header says. So every HTTP request and WebSocket names, in ``Host``, one of:

- loopback: ``localhost``, any ``127.x.y.z``, ``::1``;
- the address or name the server listens on (``--host``), and the names the host
  adds with ``--allowed-host``;
- when it listens on every address (``0.0.0.0`` or ``::``), also any IP address and
  this machine's host name: an address literal cannot be rebound.

Anything else is answered ``421 wrong_host`` (a WebSocket is refused before it
opens). A request without ``Host`` (HTTP/1.0) is let through: browsers always send it.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterable

from chatkit.live.server.errors import WrongHost
from chatkit.live.server.exposure import LOCAL_NAMES
from chatkit.live.server.frames import ASGIApp, Receive, Scope, Send

WILDCARDS = frozenset({"0.0.0.0", "::", ""})


class HostAllowlist:
    """Which ``Host`` header values this server answers."""

    def __init__(self, listen_host: str, extra: Iterable[str] = ()) -> None:
        names = {*LOCAL_NAMES, listen_host, *extra}
        self.any_address = listen_host in WILDCARDS
        if self.any_address:
            names.add(socket.gethostname())
        self.names = frozenset(_normal(name) for name in names if name)

    def allows(self, header: str) -> bool:
        """Whether a ``Host`` header value (``name``, ``name:port``, ``[v6]:port``) is ours."""
        name = _normal(_without_port(header))
        if name in self.names:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return address.is_loopback or self.any_address


class HostGuard:
    """ASGI middleware: refuse HTTP requests and WebSockets whose ``Host`` is not allowed."""

    def __init__(self, app: ASGIApp, allowlist: HostAllowlist) -> None:
        self.app = app
        self.allowlist = allowlist

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = _header(scope, b"host")
            if host is not None and not self.allowlist.allows(host):
                await _refuse(scope, send, host)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Send, host: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    error = WrongHost(
        f"this server does not answer to the name {host[:80]!r}; the host can allow it "
        "with --allowed-host"
    )
    body = json.dumps(error.to_json()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _without_port(host: str) -> str:
    host = host.strip()
    if host.startswith("["):  # [v6] or [v6]:port
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host  # a name, or a bare IPv6 address


def _normal(name: str) -> str:
    """Lowercase, without the trailing dot a fully qualified name may carry."""
    return name.lower().removesuffix(".")
