"""Known wrong: a send is added to the chat's in-flight set and never taken out.

The mistake: ``chat.in_flight`` only grows. The chat shows "sending…" forever after
the first message, and the set leaks one entry per message ever sent.

Meant to be caught by: edge cases (nothing stays in flight once everything settles);
also failure and rollback (the sending flag) and normal flow.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from chatkit import (
    ChatServer,
    ChatState,
    DeliveryError,
    Message,
    ServerMessage,
    Status,
    check_body,
)


async def send(
    state: ChatState,
    server: ChatServer,
    chat_id: str,
    body: str,
    *,
    client_id: str | None = None,
) -> Message:
    """Show the message as pending at once, deliver it, then reconcile or roll back."""
    check_body(body)
    chat = state.chat(chat_id)
    message = state.get(client_id) if client_id is not None else None
    if message is None:
        message = Message(
            client_id=client_id or uuid.uuid4().hex,
            chat_id=chat_id,
            author=state.user,
            body=body,
            created_at=datetime.now(UTC),
        )
        state.add(message)
    elif message.status is Status.SENT:
        return message  # a retry of something the server already confirmed
    else:
        message.status, message.error = Status.PENDING, None
    chat.in_flight.add(message.client_id)

    try:
        stored = await server.send(chat_id, message.client_id, body)
    except DeliveryError as error:
        rollback(state, message.client_id, error.reason)
    else:
        reconcile(state, stored)
    return message


def reconcile(state: ChatState, incoming: ServerMessage) -> None:
    """Merge the server's copy: confirm our own row, or show someone else's once."""
    message = state.get(incoming.client_id)
    if message is None:
        state.add(Message.from_server(incoming))
        return
    if message.status is Status.SENT:
        return  # already confirmed: a second echo, or the ack after the echo
    message.confirm(incoming)
    chat = state.chat(message.chat_id)
    chat.error = None  # WRONG: the message is settled but stays in chat.in_flight


def rollback(state: ChatState, client_id: str, reason: str) -> None:
    """Mark an unconfirmed send as failed, keeping the row so it can be retried."""
    message = state.get(client_id)
    if message is None or message.status is Status.SENT:
        return  # the server already confirmed it: nothing to undo
    message.status, message.error = Status.FAILED, reason
    chat = state.chat(message.chat_id)
    chat.error = reason  # WRONG: the message is settled but stays in chat.in_flight
