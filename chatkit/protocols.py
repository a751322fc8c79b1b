"""The two seams of the kit: how the flow talks to a server, and what a flow is.

Every server the learner's code meets — the scripted one in the scenarios, the
real one over Socket.IO or HTTP — implements `ChatServer`. Every target the grader
loads (the starter, the solution, a learner's folder) implements `Flow`.
"""

from __future__ import annotations

from typing import Protocol

from chatkit.model import Message, ServerMessage
from chatkit.state import ChatState


class ChatServer(Protocol):
    """What a client can ask of the server. The sender is whoever is connected."""

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        """Deliver a message; return the stored copy (the *ack*).

        Raises `chatkit.DeliveryError` when the server refuses it or no answer
        comes back in time. Sending a client id the server already stored returns
        the stored copy again and stores nothing new.
        """
        ...

    async def history(self, chat_id: str) -> list[ServerMessage]:
        """The chat's stored messages, in server order."""
        ...


class Flow(Protocol):
    """The three functions a learner writes (see ``starter-code/flow.py``)."""

    async def send(
        self,
        state: ChatState,
        server: ChatServer,
        chat_id: str,
        body: str,
        *,
        client_id: str | None = None,
    ) -> Message: ...

    def reconcile(self, state: ChatState, incoming: ServerMessage) -> None: ...

    def rollback(self, state: ChatState, client_id: str, reason: str) -> None: ...
