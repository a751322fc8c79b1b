"""Which messages a connection has already handed on, so a repeat is dropped.

One server delivers each message of a chat to a connection once. A client that
changes servers (its server died, ``fallback_urls``) can hear one message from
both: the old server delivered it just before it died, and the new one delivers
it again when its packet, or the read that fills a hole, reaches it after the
client joined. The message's seq tells the two apart, so the transport passes a
(chat, seq) on only the first time.

Only the latest `REMEMBERED` seqs of each chat are kept: a repeat comes within
moments of the first copy, and one older than that still reaches the flow,
which must never show a message twice anyway.
"""

from __future__ import annotations

from collections import deque

REMEMBERED = 1024
"""Seqs remembered per chat."""


class HeardSeqs:
    """The seqs of each chat handed on lately."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self.remembered = remembered
        self.repeats = 0
        """How many messages came again and were dropped."""
        self._seqs: dict[str, set[int]] = {}
        self._order: dict[str, deque[int]] = {}

    def first(self, chat_id: str, seq: int) -> bool:
        """True (and remembered) the first time ``seq`` of ``chat_id`` comes."""
        seqs = self._seqs.setdefault(chat_id, set())
        if seq in seqs:
            self.repeats += 1
            return False
        order = self._order.setdefault(chat_id, deque())
        if len(order) == self.remembered:
            seqs.discard(order.popleft())
        seqs.add(seq)
        order.append(seq)
        return True
