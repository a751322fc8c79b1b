"""A chat client: one user's state, one server connection, and a flow to drive them.

This is the glue every front end shares — the scenarios, the timeline explorer and
the terminal client. It routes each user action and each server event to the
learner's `send`, `reconcile` and `rollback`, and nothing else.
"""

from __future__ import annotations

from chatkit.model import Message, Sealed, ServerMessage, Status, seal
from chatkit.protocols import ChatServer, Flow
from chatkit.state import ChatState


@seal
class ServerView(metaclass=Sealed):
    """What a flow is handed as its server: ``send`` and ``history``, and nothing else.

    The flow never needs more, and handing it the server object itself would hand it
    whatever that object can reach. Neither it nor its class can be changed: what a flow
    kept on it would be kept where nothing reads it.
    """

    __slots__ = ("_server",)
    _server: ChatServer

    def __init__(self, server: ChatServer) -> None:
        object.__setattr__(self, "_server", server)

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        """Deliver a message; the server's stored copy, or `DeliveryError` saying why not.

        The same method whatever the server behind it (a scenario's, the explorer's, the
        live one): what a flow can see of it tells it nothing of where it runs."""
        return await self._server.send(chat_id, client_id, body)

    async def history(self, chat_id: str) -> list[ServerMessage]:
        """The chat's stored messages, oldest first."""
        return await self._server.history(chat_id)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("the server a flow is handed cannot be changed")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("the server a flow is handed cannot be changed")

    def __repr__(self) -> str:
        return "<chat server>"


class ChatClient:
    def __init__(self, flow: Flow, state: ChatState, server: ChatServer) -> None:
        self.flow = flow
        self.state = state
        self.server = server

    @property
    def server(self) -> ChatServer:
        """The connection this client talks through (the flow gets a `ServerView` of it)."""
        return self._server

    @server.setter
    def server(self, server: ChatServer) -> None:
        self._server = server
        self.view = ServerView(server)
        """What the flow is handed as its server."""

    async def send(self, chat_id: str, body: str) -> Message:
        """The user pressed enter."""
        return await self.flow.send(self.state, self.view, chat_id, body)

    async def retry(self, client_id: str) -> Message:
        """The user asked to resend a failed message: same words, same client id."""
        message = self.state.get(client_id)
        if message is None:
            raise KeyError(f"no message with client id {client_id!r} to retry")
        return await self.flow.send(
            self.state, self.view, message.chat_id, message.body, client_id=client_id
        )

    def receive(self, incoming: ServerMessage) -> None:
        """A realtime message arrived from the server (an echo, or someone else's)."""
        self.flow.reconcile(self.state, incoming)

    async def backfill(self, chat_id: str) -> None:
        """After a reconnect: merge the server's history into what is on screen."""
        for incoming in await self.server.history(chat_id):
            self.flow.reconcile(self.state, incoming)

    async def resync(self, chat_id: str) -> None:
        """Reload a chat: the server's list replaces the confirmed rows.

        Pending and failed rows stay; those the server turns out to have stored
        become confirmed through `reconcile`, once.
        """
        history = await self.server.history(chat_id)
        self.state.drop_confirmed(chat_id)
        for incoming in history:
            self.flow.reconcile(self.state, incoming)

    def failed(self, chat_id: str) -> list[Message]:
        """The rows of a chat that can be retried."""
        return [row for row in self.state.chat(chat_id).rows if row.status is Status.FAILED]
