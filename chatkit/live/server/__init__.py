"""The server process: Socket.IO and HTTP over one chat service, with its limits.

The modules, one job each:

- `settings` — every limit, named, in one frozen dataclass
- `faults`, `admin` — the fault switches, the seeded dice, and the host's admin token
- `payloads`, `errors` — checking input, and refusing it with a code a client can read
- `limits`, `frames`, `slow_requests` — rate limits by account and by address; frames
  refused with an answer and readers that stopped reading; deadlines for slow HTTP clients
- `connections`, `hosts` — how many connections one address and everyone may hold;
  the ``Host`` names the server answers to
- `sessions`, `service` — who is who, and the chat's rules, whatever the transport
- `realtime`, `http_api` — the Socket.IO side and the HTTP side
- `assembly`, `exposure` — putting it together (the stores its settings name, the
  app, uvicorn), and what listening beyond loopback means
- `cluster` — several server processes over Redis (its ``__init__`` is its map)

The server keeps its messages and accounts in `chatkit.live.storage` and speaks
`chatkit.live.wire`; nothing in `chatkit.live.client` or `chatkit.live.storage`
imports it.
"""
