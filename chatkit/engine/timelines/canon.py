"""A run's canonical state: what decides its future, without the random client ids.

Two runs of the same world at the same point (the same events consumed) whose keys
are equal behave the same from there on, so the explorer checks what follows only
once. The judge's key (`CanonicalState`) holds what it saw and knows: the server's
stored messages (as the sends they belong to), the phone's rows, index, flags and
banner as the phone showed them, what the rule watch remembers, and where each send
is. What only the phone can see — where each unfinished send is suspended and what its
locals point at (a row, by its place on screen, or a stale copy, by value), and what the
flow keeps in its modules (values, objects, classes, functions' defaults and closures, and
what it set on chatkit's own classes) — the phone renders the same way
(`chatkit.phone.hidden.HiddenState`) and numbers: equal numbers for equal hidden
states. Client ids become
the send they belong to (``s0``, ``s1``…, ``bob``), a client clock timestamp becomes
"the client's clock", a server timestamp the id of the server message that carries it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol

from chatkit.engine.rules import WatchMemory
from chatkit.script.names import Names
from chatkit.script.server import Request, ScriptedServer
from chatkit.state import ChatState


class AttemptLike(Protocol):
    """What the judge's key needs to know of a send (`chatkit.engine.timelines.run`)."""

    @property
    def send(self) -> int: ...

    @property
    def retry(self) -> bool: ...

    @property
    def where(self) -> str: ...

    @property
    def request(self) -> Request | None: ...


class CanonicalState(Names):
    """The judge's canonical state of a run, kept beside it (`Run.canon`) as the run goes.

    It learns which send each client id belongs to as the phone's requests name them
    (`name`), and reads the rest from the judge's mirror, server and watch.
    """

    def key(
        self,
        state: ChatState,
        server: ScriptedServer,
        memory: WatchMemory,
        attempts: Sequence[AttemptLike],
        hidden: object,
    ) -> Hashable:
        """Everything that decides what happens next, minus the random client ids.

        ``memory`` is the watch's, renamed (`WatchMemory.renamed`); ``hidden`` the phone's
        number for what only it can see (`HiddenState`).
        """
        chats, index, stored = self._screen(state, server)
        sends = tuple(
            (attempt.send, attempt.retry, attempt.request is not None, attempt.where)
            for attempt in attempts
        )
        return (chats, index, stored, memory, sends, hidden)

    def rename(self, client_id: str) -> str:
        """The send ``client_id`` belongs to (``s0``…), or the id itself if none."""
        return self._rename(client_id)
