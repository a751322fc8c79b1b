"""Where the live server keeps what must survive a restart: messages and accounts.

The modules, one job each:

- `messages` — the `MessageStore` interface, its two promises, and `SQLiteStore`
- `accounts`, `passwords` — users, sessions, private chats and members in SQLite;
  scrypt and token digests
- `locations` — which database a ``--db`` value names, and how to show it without
  its password
- `databases` — the stores a location names (``account_store``), and opening them
  from synchronous code
- `postgres` — messages, accounts and sessions in PostgreSQL, shared by several
  server processes (imports asyncpg; the SQLite default never does)

This package depends on `chatkit.live.wire` and the model, nothing of the server's:
the server (`chatkit.live.server`) and the commands open a store, never the reverse.
"""
