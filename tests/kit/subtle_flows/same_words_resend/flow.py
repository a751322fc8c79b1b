"""Subtly wrong: typing the same words again after they failed resends the failed message.

The "feature": if you send exactly what a failed message of yours says, this flow
treats it as a retry of that message — it reuses the failed message's client id and
turns the failed row back to pending — so the chat does not show the words twice.

The mistake: two messages with the same words are two messages (rule 13), and every
new message gets an id of its own (rule 10). The user pressed enter on a new message,
not on the retry button: the failed one must stay failed, and the new one must show
below it with a fresh id. Every hand-written scenario sends its identical bodies while
the first one is still pending, so they all pass; only an ordering in which the
second "ok" is sent *after* the first one failed shows the mistake.
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
    if client_id is None:
        # The same words as a message that failed: resend that one instead of
        # showing the words twice.  (The mistake: this is a new message.)
        for row in reversed(chat.rows):
            if row.status is Status.FAILED and row.body == body:
                client_id = row.client_id
                break
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
