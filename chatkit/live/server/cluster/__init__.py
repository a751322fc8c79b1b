"""Several server processes serving one chat, through Redis (``--redis``).

- `fanout` — what crosses between the processes: messages (exactly once, through a
  Redis outage), typing notices and fault changes; `Fanout` for one process alone
- `delivered` — which messages of a chat this process has already delivered
- `shared_faults` — the fault switches, shared by every process under one Redis key
- `redis_link` — one process's link to the others: sealed packets, and whether it holds
- `secret` — the secret they share and the seal it puts on every packet;
  ``python -m chatkit.live.server.cluster.secret FILE`` makes one

The server's `settings` (the secret), `service`, `realtime` and `assembly` (the
fanout) use these; they use the server's `errors` and `faults`, and the storage.
"""
