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

Run it with ``python -m chatkit.live`` (or ``chatkit serve``). The modules, one job each:

- `settings` — every limit, named, in one frozen dataclass
- `faults`, `admin` — the fault switches, the seeded dice, and the host's admin token
- `storage` — messages and accounts: the `MessageStore` interface and `SQLiteStore`,
  accounts and passwords, which database ``--db`` names, and PostgreSQL (its
  ``__init__`` is its map)
- `payloads`, `errors`, `wire` — checking input, refusing it, and the message format
- `limits`, `frames`, `slow_requests` — rate limits by account and by address; frames
  refused with an answer and readers that stopped reading; deadlines for slow HTTP clients
- `connections`, `hosts` — how many connections one address and everyone may hold;
  the ``Host`` names the server answers to
- `sessions`, `service` — who is who, and the chat's rules, whatever the transport
- `realtime`, `http_api`, `server`, `exposure` — Socket.IO, HTTP, putting it together,
  and what listening beyond loopback means
- `fanout`, `delivered`, `shared_faults`, `redis_link`, `cluster_secret`, `redis_process` —
  several server processes: what crosses between them (messages exactly once, through a
  Redis outage; the fault switches they share), over packets sealed with the secret they
  share; a ``redis-server`` for tests and benchmarks
- `client` — `chatkit.ChatServer` over Socket.IO and over HTTP (`client.transports`);
  it shares only `wire` with the server
- `process`, `fuzz` — a server in a subprocess, and the fuzz set run against one
- `cli`, `accounts_cli` — ``serve`` and ``accounts``

This package depends on the model (``chatkit.model`` and friends), never the reverse.
"""
