"""The client side of the live kit: what a learner's flow, the terminal client and
the benchmarks use to talk to a running server.

- `transports` — `chatkit.ChatServer` over Socket.IO (`SocketIOTransport`) and over
  HTTP (`HttpTransport`), every failure a `chatkit.DeliveryError` a person can read

It shares only the wire format with the server (`chatkit.live.wire`, the whole
contract between them) and imports nothing of `chatkit.live.server` or
`chatkit.live.storage`, so a client never drags the server along.
"""
