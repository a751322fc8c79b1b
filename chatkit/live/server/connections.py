"""How many connections one address, and everyone together, may hold open at once.

A connection costs the server memory and a place in uvicorn's count, and an idle
one costs its opener nothing, so without a bound per address one machine can open
enough idle WebSockets that every other request, ``/health`` and sign-in included,
meets a full server. Two counts keep that from happening, each per client address
and in total (`ServerSettings.max_connections_per_address`, ``max_connections``):

- `ConnectionGate` counts TCP connections from the moment they are accepted, HTTP
  and WebSocket alike (a WebSocket is an HTTP connection that was upgraded). One
  over the bound is answered ``503`` and closed before a byte of it is read.
- `AddressCounts` counts Engine.IO sessions, polling and WebSocket alike: a polling
  session holds no connection between its requests, yet holds the server's memory.

Each stays below uvicorn's own limit (which answers 503 to every HTTP request
once reached, whoever holds the connections): the address bound is much lower,
and the gate refuses new connections a little before uvicorn would.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Callable, Iterable

from chatkit.live.server.errors import Unavailable

TOTAL_HEADROOM = 16
"""Connections kept free under uvicorn's limit for requests already accepted."""
PRUNE_EVERY = 256
"""Every so many connections, closed WebSockets of every address are forgotten, so an
address that never comes back does not keep its closed ones counted."""


def client_address(environ: object) -> str:
    """The connection's client address, from the ASGI scope in an Engine.IO environ
    (Engine.IO's own ``REMOTE_ADDR`` always says 127.0.0.1)."""
    scope = environ.get("asgi.scope") if isinstance(environ, dict) else None
    client = scope.get("client") if isinstance(scope, dict) else None
    return str(client[0]) if isinstance(client, list | tuple) and client else ""


class AddressCounts:
    """Things (keyed by an id) open per address, bounded per address and in total."""

    def __init__(self, per_address: int, total: int) -> None:
        self.per_address = per_address
        self.total = total
        self._address_of: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def add(self, key: str, address: str) -> bool:
        """Count ``key`` as open from ``address``; False (and not counted) if over a bound."""
        if len(self._address_of) >= self.total or self._counts.get(address, 0) >= self.per_address:
            return False
        self._address_of[key] = address
        self._counts[address] = self._counts.get(address, 0) + 1
        return True

    def remove(self, key: str) -> None:
        address = self._address_of.pop(key, None)
        if address is None:
            return
        left = self._counts[address] - 1
        if left:
            self._counts[address] = left
        else:
            del self._counts[address]


class ConnectionGate:
    """Open TCP connections per peer address and in total; see the module.

    A connection is forgotten when it is released (the HTTP protocol saw it close)
    or, once upgraded to a WebSocket (whose protocol object is uvicorn's, not ours),
    when its transport is found closing the next time its address is counted.
    """

    def __init__(
        self, per_address: int, total: int, *, proxies: Callable[[str], bool] = lambda _: False
    ) -> None:
        self.per_address = per_address
        self.total = total
        self.proxies = proxies
        """The trusted proxies (`trusted_proxies`): every client behind one comes from its
        address, so theirs count towards the total only (Engine.IO's count, which sees
        the forwarded address, still bounds each client)."""
        self._by_address: dict[str, set[asyncio.BaseTransport]] = {}
        self._address_of: dict[asyncio.BaseTransport, str] = {}
        self._admitted = 0

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        """Count a new connection; False if it is one too many (its caller closes it)."""
        self._admitted += 1
        if self._admitted % PRUNE_EVERY == 0 or len(self._address_of) >= self.total:
            for address in list(self._by_address):
                self._prune(address)
        address = peer_address(transport)
        if self._count(address) >= self.per_address:
            self._prune(address)
        if self._count(address) >= self.per_address and not self.proxies(address):
            return False
        if len(self._address_of) >= self.total:
            return False
        self._by_address.setdefault(address, set()).add(transport)
        self._address_of[transport] = address
        return True

    def release(self, transport: asyncio.BaseTransport) -> None:
        address = self._address_of.pop(transport, None)
        if address is None:
            return
        mine = self._by_address.get(address)
        if mine is not None:
            mine.discard(transport)
            if not mine:
                del self._by_address[address]

    def _count(self, address: str) -> int:
        return len(self._by_address.get(address, ()))

    def _prune(self, address: str) -> None:
        """Forget the connections from ``address`` that have closed since they were counted."""
        for transport in [t for t in self._by_address.get(address, ()) if t.is_closing()]:
            self.release(transport)


def trusted_proxies(entries: Iterable[str]) -> Callable[[str], bool]:
    """Whether an address is one of ``entries`` (``--forwarded-allow-ips``: addresses,
    networks, or ``*`` for any)."""
    if "*" in entries:
        return lambda _: True
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a name or a socket path: uvicorn matches those itself

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    return trusted


def peer_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, list | tuple) and peer else ""


def refusal_bytes(reason: str) -> bytes:
    """A whole HTTP/1.1 503 answer, written before the request is read, then closed."""
    body = json.dumps(Unavailable(reason).to_json()).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
