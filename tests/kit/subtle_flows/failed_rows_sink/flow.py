"""Subtly wrong: a new message is shown above your failed ones, which sink to the bottom.

The "feature": failed messages wait at the very bottom of the chat, next to their
retry buttons, so `send` inserts each new pending row just above the failed rows at
the end, instead of after them.

The mistake: the timeline shows the unconfirmed messages in the order they were sent
(rule 5). A message that failed was sent before the one you type now, so it stays
above it; only a confirmed message moves, into server order. In every hand-written
scenario either the new message is confirmed before anyone looks, or nothing had
failed yet when it was sent, so they all pass; the ordering "a message fails, then
you send another" shows the mistake at once.
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
        # Failed messages stay at the bottom, next to their retry button: the new
        # one goes just above them.  (The mistake: unconfirmed ones keep the order
        # they were sent in.)
        rows = chat.rows
        place = len(rows)
        while place and rows[place - 1].status is Status.FAILED:
            place -= 1
        rows.insert(place, message)
        state.messages[message.client_id] = message
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
