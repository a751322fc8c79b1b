"""Tools around a live server, for the tests, the benchmarks and the host.

- `process` — a server in a subprocess of its own (``python -m chatkit.live``), with
  its port and admin token read from its ready line
- `redis_process` — a real ``redis-server`` in a subprocess, for tests and benchmarks
- `fuzz` — the fuzz set run against a server (``python -m chatkit.live.tools.fuzz``)

They use the server from outside, as a client or a parent process would; nothing
in the server, the storage or the client imports them.
"""
