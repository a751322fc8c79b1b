"""The live side: a real chat server, and client transports that talk to it.

The scenarios run against a scripted server; this package is the real thing —
Socket.IO rooms with acked sends and broadcast
echoes, typing indicators, HTTP for health, users, history and a fallback send,
and messages in SQLite (WAL, committed before acked, idempotent on the client id)
or, for several server processes, PostgreSQL.
Safe to share in a classroom: accounts with passwords, private chats by
invitation (accepted, never imposed), fault switches only for the host, every input
checked so one bad message never fails another, and limits by account and by
address that a new session, a new connection or a forged proxy header does not reset. Fault switches make lost acks, refusals,
latency and echo-before-ack happen on purpose.

Run it with ``python -m chatkit.live`` (or ``chatkit serve``). The parts, each
package's ``__init__`` its own map:

- `server` — the server process: settings, fault switches, input checks, limits,
  sessions, the chat service, Socket.IO and HTTP, and putting them together;
  `server.cluster` for several processes over Redis
- `storage` — messages and accounts: the `MessageStore` interface and `SQLiteStore`,
  accounts and passwords, which database ``--db`` names, and PostgreSQL
- `client` — `chatkit.ChatServer` over Socket.IO and over HTTP (`client.transports`)
- `wire` — the message format, event names and packets' JSON: the whole client–server contract
- `tools` — a server or a ``redis-server`` in a subprocess, and the fuzz set
- `cli`, `accounts_cli` — ``serve`` and ``accounts``; ``__main__`` runs ``serve``

Who may import whom: `client` only `wire`; `storage` only `wire`; `server` both
`storage` and `wire`; `tools` and the commands anything. No cycles.

This package depends on the model (``chatkit.model`` and friends), never the reverse.
"""
