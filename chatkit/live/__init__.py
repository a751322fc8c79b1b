"""The live side: a real chat server, and client transports that talk to it.

The scenarios run against a scripted server; this package is the real thing the
seeds' WebSocket system becomes — Socket.IO rooms with acked sends and broadcast
echoes, typing indicators, HTTP for health, users, history and a fallback send,
and messages in SQLite (WAL, committed before acked, idempotent on the client id).
Fault switches make lost acks, refusals, latency and echo-before-ack happen on
purpose.

Run it with ``python -m chatkit.live`` (or ``chatkit serve``). The modules, one job each:

- `settings` — every limit, named, in one frozen dataclass
- `faults` — the fault switches and the seeded dice
- `storage` — the `MessageStore` interface and `SQLiteStore`
- `payloads`, `errors`, `wire` — checking input, refusing it, and the message format
- `sessions`, `service` — who is who, and the chat's rules, whatever the transport
- `realtime`, `http_api`, `server` — Socket.IO, HTTP, and putting it together
- `transports` — `chatkit.ChatServer` over Socket.IO and over HTTP, for clients
- `cli` — ``serve``

This package depends on the model (``chatkit.model`` and friends), never the reverse.
"""
