"""Which messages of a chat this server process has delivered to its own connections.

With several processes a message reaches a process by more than one road: its
own send, the packet another process published through Redis, a catch-up read
from the database after Redis was away, a stalled publish that Redis carries out
late. Each road may bring it again; each member must hear it once. So every
process keeps, per chat, a `ChatLedger` of the sequence numbers it delivered,
and delivers a message only if `ChatLedger.take` says it is the first time.

The ledger is small whatever a chat's length: a floor (every seq at or below it
is delivered, or was history when the process started listening to the chat) and
the few seqs delivered above it, out of order. A hole below the highest seq
delivered is a message still on its way, or lost: `ChatLedger.missing` says so,
and the process reads it from the database.
"""

from __future__ import annotations


class ChatLedger:
    """The seqs of one chat delivered by this process."""

    __slots__ = ("above", "floor")

    def __init__(self, floor: int | None = None) -> None:
        self.floor = floor
        """Every seq up to here counts as delivered; None until the chat's head is known
        (then every seq that arrives is delivered, and remembered in `above`)."""
        self.above: set[int] = set()
        """Seqs delivered above the floor, not yet joined to it."""

    def take(self, seq: int) -> bool:
        """True (and remembered) the first time ``seq`` comes; False every time after."""
        if (self.floor is not None and seq <= self.floor) or seq in self.above:
            return False
        self.above.add(seq)
        self._raise_floor()
        return True

    def start_at(self, head: int) -> None:
        """The chat's last seq when this process began listening: it and all before it
        are history (its members read them with the history), not messages to deliver."""
        if self.floor is None or head > self.floor:
            self.floor = head
            self.above = {seq for seq in self.above if seq > head}
            self._raise_floor()

    def missing(self) -> bool:
        """Whether a seq below the highest delivered one has not come yet."""
        return self.floor is not None and bool(self.above)

    def behind(self, seq: int) -> bool:
        """Whether ``seq`` (a chat's head another process announced) has not come yet."""
        return self.floor is not None and seq > self.floor and seq not in self.above

    def _raise_floor(self) -> None:
        if self.floor is None:
            return
        while self.floor + 1 in self.above:
            self.floor += 1
            self.above.discard(self.floor)
