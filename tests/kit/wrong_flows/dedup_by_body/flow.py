"""Known wrong: reconcile finds the row by its text instead of its client id.

The mistake: the server's copy is matched with the first row by the same author
that says the same thing. Two messages with the same body get mixed up (the ack of
the second confirms the first), and your own message from another device is merged
into the pending one on this device.

Meant to be caught by: duplicates (identical bodies, same user on another device).
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
    message = next(  # WRONG: the same words do not make the same message
        (
            row
            for row in state.chat(incoming.chat_id).rows
            if row.body == incoming.body and row.author == incoming.author
        ),
        None,
    )
    if message is None:
        state.add(Message.from_server(incoming))
        return
    if message.status is Status.SENT:
        return  # already confirmed: a second echo, or the ack after the echo
    message.confirm(incoming)
    chat = state.chat(message.chat_id)
    chat.in_flight.discard(message.client_id)
    chat.error = None


def rollback(state: ChatState, client_id: str, reason: str) -> None:
    """Mark an unconfirmed send as failed, keeping the row so it can be retried."""
    message = state.get(client_id)
    if message is None or message.status is Status.SENT:
        return  # the server already confirmed it: nothing to undo
    message.status, message.error = Status.FAILED, reason
    chat = state.chat(message.chat_id)
    chat.in_flight.discard(client_id)
    chat.error = reason
