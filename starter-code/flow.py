"""Your code: send a chat message optimistically.

Write the three functions below, then run ``python grader.py`` to see which
scenarios pass. Stuck? ``hints.md`` has hints for each function, one level at a
time, and the grader tells you which section to read.

What you have to work with (imported for you below, from ``chatkit``):

- ``ChatState`` — what the screen shows. ``state.user`` is who is signed in.
  ``state.get(client_id)`` finds a row in O(1); ``state.add(message)`` shows a new
  row. ``state.chat(chat_id)`` gives a ``Chat`` with ``in_flight`` (a set of client
  ids of unsettled sends — ``chat.sending`` is true while it is not empty) and
  ``error`` (the error banner).
- ``Message`` — one row: ``client_id``, ``chat_id``, ``author``, ``body``,
  ``created_at``, ``status`` (``Status.PENDING``/``SENT``/``FAILED``), ``error``, and
  once confirmed, the server's ``server_id`` and ``seq``.
  ``Message.from_server(incoming)`` builds a confirmed row; ``row.confirm(incoming)``
  copies the server's id, sequence and timestamp onto a row and marks it sent.
- ``ServerMessage`` — the server's copy, from an ack or an echo. Its ``client_id`` is
  the one the sender chose, so you can recognise your own messages.
- ``await server.send(chat_id, client_id, body)`` — delivers a message and returns
  the server's copy (the *ack*), or raises ``DeliveryError`` (``error.reason`` says why).
- ``check_body(body)`` — raises ``InvalidMessage`` for an empty or too long body.

Besides ``chatkit``, you may import a few standard modules — ``uuid``, ``datetime``,
``asyncio``, ``random``, ``collections``, ``itertools``, ``dataclasses``, ``typing`` and
the like — and helper modules of your own beside this file. The grader refuses
anything that reaches files, the environment or the kit's insides, and names the line.
In the scenarios every phone runs its own copy of this file, lives in India's time
zone (UTC+05:30), and its clock stands still until the scenario moves it.
"""

from __future__ import annotations

from chatkit import (  # noqa: F401 (the docstrings use them all; your code will too)
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
    """Show the message at once, deliver it, then reconcile it or roll it back.

    The user must see their message the moment they press enter, so put it on
    screen as ``pending`` *before* you await anything — the words exactly as typed. It needs a client id that
    no other message has — even two messages sent in the same instant — and a
    ``created_at`` from the clock, saying its time zone. While it travels, the chat should show
    "sending…".

    When the server answers with its copy, hand that copy to `reconcile`. When it
    raises ``DeliveryError``, hand the reason to `rollback`. Either way, return the
    row: by then it shows sent or failed.

    Refuse a bad body (``check_body``) before you change anything.

    ``client_id`` is given when the user retries a failed message: send the same
    row again, with the same id, so a server that secretly stored it the first
    time does not store it twice.

    TODO: write this function.
    """
    raise NotImplementedError("send is not written yet")


def reconcile(state: ChatState, incoming: ServerMessage) -> None:
    """Merge the server's copy of a message into the screen.

    Called for the ack of your own send *and* for every realtime echo — and the
    echo may arrive before the ack, twice, or again in a history reload. However
    often and in whatever order, each message must be on screen exactly once.

    Recognise a message by its client id, never by its text: two messages can
    say the same thing. Once a row is confirmed it takes the server's id, sequence
    number and timestamp, and ``sent`` is final. A message you are not showing
    yet (someone else's) becomes a new row. Keep the chat's "sending…" and error
    banner honest.

    TODO: write this function.
    """
    raise NotImplementedError("reconcile is not written yet")


def rollback(state: ChatState, client_id: str, reason: str) -> None:
    """Undo a send that did not get through — without losing the user's words.

    The row stays on screen, marked ``failed`` with ``reason``, so the user can
    read what went wrong and retry. The chat's banner (``chat.error``) shows the
    reason, word for word: the app around it adds its own wording. But if
    the server already confirmed this message (its echo beat the failure), the
    message got through: leave it alone.

    TODO: write this function.
    """
    raise NotImplementedError("rollback is not written yet")
