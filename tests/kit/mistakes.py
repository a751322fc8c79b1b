"""The known mistakes, each written once as a small edit of the reference solution.

A mistake's flow is ``solution/flow.py`` with the mistake's module docstring and its
edits: ``(old, new)`` replacements, each ``old`` found exactly once in the solution.
The flows are written out when needed (``write_flow``), so they stay in step with the
solution; an edit the solution no longer fits fails loudly, naming the mistake.

- ``WRONG``: plausible mistakes, each caught by the scenario families named in its
  docstring (``test_wrong_flows.py``).
- ``SUBTLE``: mistakes that pass every hand-written scenario, caught only by "all
  timelines" (``test_timelines.py``).

To grade one by hand::

    python tests/kit/mistakes.py OUT_DIR
    python grader.py --target OUT_DIR/no_dedup
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from pathlib import Path

SOLUTION = Path(__file__).resolve().parents[2] / "solution" / "flow.py"

Edit = tuple[str, str]
"""Replace the first text, which must be found exactly once, by the second."""


class MistakeOutdated(ValueError):
    """An edit of a mistake no longer fits the reference solution."""


@dataclass(frozen=True)
class Mistake:
    name: str
    doc: str
    """The flow's module docstring: what the mistake is, and which family catches it."""
    edits: tuple[Edit, ...]


def lines(*code: str) -> str:
    """Lines of code, each ended by a newline."""
    return "".join(f"{line}\n" for line in code)


def flow_source(mistake: Mistake) -> str:
    """The solution's source with the mistake's docstring and edits."""
    source = SOLUTION.read_text()
    for number, (old, new) in enumerate(mistake.edits, start=1):
        found = source.count(old)
        if found != 1:
            raise MistakeOutdated(
                f"mistake {mistake.name!r}, edit {number}: the text to replace is found "
                f"{found} times in solution/flow.py instead of exactly once — update the "
                f"mistake to the solution:\n{old}"
            )
        source = source.replace(old, new)
    if not source.startswith('"""'):
        raise MistakeOutdated(f"mistake {mistake.name!r}: the solution has no module docstring")
    code = source[source.index('"""', 3) + 3 :]
    return f'"""{inspect.cleandoc(mistake.doc)}\n"""{code}'


def write_flow(mistake: Mistake, folder: Path) -> Path:
    """Write ``folder/<name>/flow.py``, the solution with the mistake, and return its path."""
    path = folder / mistake.name / "flow.py"
    source = flow_source(mistake)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return path


RECONCILE_LOOKUP = lines("    message = state.get(incoming.client_id)")

WRONG: tuple[Mistake, ...] = (
    Mistake(
        "no_dedup",
        doc="""
        Known wrong: reconcile always adds a row — it never looks for the one already shown.

        The mistake: every server copy (ack, echo, history) becomes a new row, so the pending
        row stays beside its confirmed copy, and a repeated echo adds yet another.

        Meant to be caught by: duplicates (double echo, backfill); it breaks almost every family.
        """,
        edits=(
            (
                lines(
                    "    message = state.get(incoming.client_id)",
                    "    if message is None:",
                    "        state.add(Message.from_server(incoming))",
                    "        return",
                    "    if message.status is Status.SENT:",
                    "        return  # already confirmed: a second echo, or the ack after the echo",
                    "    message.confirm(incoming)",
                    "    chat = state.chat(message.chat_id)",
                    "    chat.in_flight.discard(message.client_id)",
                    "    chat.error = None",
                ),
                lines(
                    "    chat = state.chat(incoming.chat_id)",
                    "    state.add(Message.from_server(incoming))  # WRONG: even when the message is already shown",
                    "    if incoming.client_id in chat.in_flight:",
                    "        chat.in_flight.discard(incoming.client_id)",
                    "        chat.error = None",
                ),
            ),
        ),
    ),
    Mistake(
        "dedup_by_body",
        doc="""
        Known wrong: reconcile finds the row by its text instead of its client id.

        The mistake: the server's copy is matched with the first row by the same author
        that says the same thing. Two messages with the same body get mixed up (the ack of
        the second confirms the first), and your own message from another device is merged
        into the pending one on this device.

        Meant to be caught by: duplicates (identical bodies, same user on another device).
        """,
        edits=(
            (
                RECONCILE_LOOKUP,
                lines(
                    "    message = next(  # WRONG: the same words do not make the same message",
                    "        (",
                    "            row",
                    "            for row in state.chat(incoming.chat_id).rows",
                    "            if row.body == incoming.body and row.author == incoming.author",
                    "        ),",
                    "        None,",
                    "    )",
                ),
            ),
        ),
    ),
    Mistake(
        "keyed_by_server_id",
        doc="""
        Known wrong: reconcile looks the message up by the server's id.

        The mistake: the server id looks like "the real id", but a pending row has none
        yet, so the ack of your own message finds nothing and adds the server's copy as a
        second row; the pending copy stays on screen beside it.

        Meant to be caught by: normal flow and duplicates (the ack or echo adds a second row).
        """,
        edits=(
            (
                RECONCILE_LOOKUP,
                lines(
                    "    message = next(  # WRONG: a pending row has no server id yet",
                    "        (row for row in state.chat(incoming.chat_id).rows if row.server_id == incoming.id),",
                    "        None,",
                    "    )",
                ),
            ),
        ),
    ),
    Mistake(
        "rollback_removes",
        doc="""
        Known wrong: rollback takes the failed message off the screen.

        The mistake: "undo" is read literally, so a refused or timed-out send vanishes,
        with the user's words, and can never be retried.

        Meant to be caught by: failure and rollback (a failed send stays visible with its reason).
        """,
        edits=(
            (
                lines(
                    "    message.status, message.error = Status.FAILED, reason",
                    "    chat = state.chat(message.chat_id)",
                    "    chat.in_flight.discard(client_id)",
                ),
                lines(
                    "    chat = state.chat(message.chat_id)",
                    "    # WRONG: the user's words are gone, nothing to retry",
                    "    chat.rows.remove(message)",
                    "    del state.messages[client_id]",
                    "    chat.in_flight.discard(client_id)",
                ),
            ),
        ),
    ),
    Mistake(
        "rollback_fails_sent",
        doc="""
        Known wrong: rollback marks the message failed even when the server already confirmed it.

        The mistake: rollback does not ask whether the echo beat the failure, so a message
        that got through (its echo arrived, then its ack was lost) is shown as failed.

        Meant to be caught by: failure and rollback and edge cases (echo, then time-out);
        also server-first arrival.
        """,
        edits=(
            (
                lines(
                    "    if message is None or message.status is Status.SENT:",
                    "        return  # the server already confirmed it: nothing to undo",
                ),
                lines(
                    "    if message is None:  # WRONG: a message the server confirmed is not undone",
                    "        return",
                ),
            ),
        ),
    ),
    Mistake(
        "status_regresses",
        doc="""
        Known wrong: send overwrites the row's status without looking at it first.

        The mistake: send treats the status as its own to set. A retry puts the row back to
        pending even if a late echo confirmed it meanwhile, and a failure answer marks it
        failed even if the echo already proved delivery (send does the rollback itself
        instead of calling `rollback`, which would have checked). Sent is supposed to be final.

        Meant to be caught by: edge cases (retry of a confirmed message, a time-out after the
        echo) and server-first arrival (the echo wins, then the ack is lost).
        """,
        edits=(
            (
                lines(
                    "    elif message.status is Status.SENT:",
                    "        return message  # a retry of something the server already confirmed",
                    "    else:",
                    "        message.status, message.error = Status.PENDING, None",
                ),
                lines(
                    "    else:",
                    "        message.status, message.error = Status.PENDING, None  # WRONG: even if already sent",
                ),
            ),
            (
                lines("        rollback(state, message.client_id, error.reason)"),
                lines(
                    "        # WRONG: marks the row failed even if its echo confirmed it while we waited",
                    "        message.status, message.error = Status.FAILED, error.reason",
                    "        chat.in_flight.discard(message.client_id)",
                    "        chat.error = error.reason",
                ),
            ),
        ),
    ),
    Mistake(
        "timestamp_ids",
        doc="""
        Known wrong: the client id is made from the clock.

        The mistake: ``datetime.now().isoformat()`` looks unique, but two messages created
        in the same instant (a frozen clock in a test, a coarse clock on a device, a burst
        of sends) get the same id, and from then on they are one message to the client.

        Meant to be caught by: edge cases (many sends with the clock frozen).
        """,
        edits=(
            (lines("import uuid"), ""),
            (
                lines("            client_id=client_id or uuid.uuid4().hex,"),
                lines(
                    "            client_id=client_id or datetime.now(UTC).isoformat(),  # WRONG: not unique"
                ),
            ),
        ),
    ),
    Mistake(
        "linear_scan",
        doc="""
        Known wrong: rows are found by walking the timeline instead of through the index.

        The mistake: every ack, echo and failure scans the chat's rows for the client id,
        so each event costs O(n) in the length of the history. Every answer is right; it
        only gets slower and slower as the chat grows.

        Meant to be caught by: scale, and nothing else.
        """,
        edits=(
            (
                lines("    message = state.get(client_id) if client_id is not None else None"),
                lines("    message = find(state, client_id) if client_id is not None else None"),
            ),
            (
                RECONCILE_LOOKUP,
                lines("    message = find(state, incoming.client_id, incoming.chat_id)"),
            ),
            (
                lines("    message = state.get(client_id)"),
                lines("    message = find(state, client_id)"),
            ),
            (
                lines("    chat.error = reason"),
                lines(
                    "    chat.error = reason",
                    "",
                    "",
                    "def find(state: ChatState, client_id: str, chat_id: str | None = None) -> Message | None:",
                    '    """WRONG: O(n) — walks every row instead of asking ``state.get(client_id)``."""',
                    "    chats = [state.chat(chat_id)] if chat_id is not None else list(state.chats.values())",
                    "    for chat in chats:",
                    "        for row in chat.rows:",
                    "            if row.client_id == client_id:",
                    "                return row",
                    "    return None",
                ),
            ),
        ),
    ),
    Mistake(
        "sending_never_cleared",
        doc="""
        Known wrong: a send is added to the chat's in-flight set and never taken out.

        The mistake: ``chat.in_flight`` only grows. The chat shows "sending…" forever after
        the first message, and the set leaks one entry per message ever sent.

        Meant to be caught by: edge cases (nothing stays in flight once everything settles);
        also failure and rollback (the sending flag) and normal flow.
        """,
        edits=(
            (
                lines("    chat.in_flight.discard(message.client_id)", "    chat.error = None"),
                lines(
                    "    chat.error = None  # WRONG: the message is settled but stays in chat.in_flight"
                ),
            ),
            (
                lines("    chat.in_flight.discard(client_id)", "    chat.error = reason"),
                lines(
                    "    chat.error = reason  # WRONG: the message is settled but stays in chat.in_flight"
                ),
            ),
        ),
    ),
    Mistake(
        "id_numbered_ids",
        doc="""
        Known wrong: client ids come from ``id(state)`` and a count: m140…-0, m140…-1, …

        The mistake: ``id`` numbers objects inside one program. On one phone the number is
        the same for as long as the app runs, and the count keeps the ids apart; but every
        phone runs the same app the same way, so two phones give their first messages the
        same id, and the server takes the second for a resend of the first.

        Meant to be caught by: concurrency (two and three phones sending into one chat).
        """,
        edits=(
            (
                lines("            client_id=client_id or uuid.uuid4().hex,"),
                lines(
                    '            client_id=client_id or f"m{id(state)}-{len(state.messages)}",  # WRONG: the same on every phone'
                ),
            ),
        ),
    ),
    Mistake(
        "module_counter_ids",
        doc="""
        Known wrong: client ids come from a counter at module level: msg-1, msg-2, …

        The mistake: a counter is unique on one phone, but every phone has its own copy of
        the app, and each starts at msg-1. The moment two people's phones send into the same
        chat, their messages carry the same client id, and the server takes the second for a
        resend of the first (the live server refuses it: 409).

        Meant to be caught by: concurrency (two and three phones sending into one chat).
        """,
        edits=(
            (lines("import uuid"), lines("import itertools")),
            (
                lines("            client_id=client_id or uuid.uuid4().hex,"),
                lines(
                    '            client_id=client_id or f"msg-{next(_numbers)}",  # WRONG: every phone counts from 1'
                ),
            ),
            (
                lines("", "", "async def send("),
                lines("", "", "_numbers = itertools.count(1)", "", "", "async def send("),
            ),
        ),
    ),
    Mistake(
        "ids_from_row_count",
        doc="""
        Known wrong: a message's client id is the chat's name and how many rows it has.

        The mistake: "general-3" looks unique, but it depends on what this phone happens to
        show. Two phones that show the same number of rows give their next messages the same
        id.

        Meant to be caught by: concurrency (two phones send into one chat at the same time).
        """,
        edits=(
            (lines("import uuid"), ""),
            (
                lines("            client_id=client_id or uuid.uuid4().hex,"),
                lines(
                    '            client_id=client_id or f"{chat_id}-{len(chat.rows) + 1}",  # WRONG: not unique'
                ),
            ),
        ),
    ),
    Mistake(
        "ids_from_own_count",
        doc="""
        Known wrong: a client id is the user's name and how many messages this app has seen.

        The mistake: "you-3" is unique among your own messages on this phone, and other
        people's ids carry their own names. But a new phone, or the app reinstalled, starts
        counting again from nothing: its first message takes the id of your first message
        ever, and the server answers it with that old message.

        Meant to be caught by: duplicates (a new phone sends before the history loads).
        """,
        edits=(
            (lines("import uuid"), ""),
            (
                lines("            client_id=client_id or uuid.uuid4().hex,"),
                lines(
                    '            client_id=client_id or f"{state.user}-{len(state.messages) + 1}",  # WRONG'
                ),
            ),
        ),
    ),
    Mistake(
        "short_random_ids",
        doc="""
        Known wrong: client ids are four random digits.

        The mistake: 9,000 possible ids run out fast. With a few dozen messages in flight
        two of them share an id now and then; in a burst of a thousand, always.

        Meant to be caught by: concurrency (a burst of 2,000 sends).
        """,
        edits=(
            (lines("import uuid"), lines("import random")),
            (
                lines("            client_id=client_id or uuid.uuid4().hex,"),
                lines(
                    "            client_id=client_id or str(random.randint(1000, 9999)),  # WRONG: too few ids"
                ),
            ),
        ),
    ),
    Mistake(
        "ids_of_8_hex_digits",
        doc="""
        Known wrong: client ids are the first 8 hex digits of a uuid4.

        The mistake: "a uuid is long, 8 digits are plenty". On one phone they are: 4 billion
        ids, no clash in a day's messages. But every device that writes to a chat makes ids
        from the same 4 billion, and among 77,000 of them two meet more often than not.

        Meant to be caught by: concurrency (the room a phone's ids have).
        """,
        edits=(
            (
                lines("            client_id=client_id or uuid.uuid4().hex,"),
                lines("            client_id=client_id or uuid.uuid4().hex[:8],  # WRONG: 32 bits"),
            ),
        ),
    ),
    Mistake(
        "ids_of_8_hex_digits_then_the_chat",
        doc="""
        Known wrong: client ids are 8 hex digits of a uuid4, then the chat's id.

        The mistake: "the chat makes it unique". The server already tells messages apart
        by chat, so the chat's id adds nothing: inside one chat, every device that writes
        to it draws from the same 4 billion ids, and among 77,000 of them two meet more
        often than not.

        Meant to be caught by: concurrency (the room a phone's ids have).
        """,
        edits=(
            (
                lines("            client_id=client_id or uuid.uuid4().hex,"),
                lines(
                    '            client_id=client_id or f"{uuid.uuid4().hex[:8]}-{chat_id}",'
                    "  # WRONG: 32 bits"
                ),
            ),
        ),
    ),
    Mistake(
        "created_at_cut_to_seconds",
        doc="""
        Known wrong: a new message's created_at is the clock's time cut to the second.

        The mistake: "nobody needs microseconds". But created_at says when the message was
        written, and that is not a whole second: two messages a few milliseconds apart
        look written at once, and the time is simply not the clock's.

        Meant to be caught by: edge cases (created_at read from a clock that shows
        microseconds).
        """,
        edits=(
            (
                lines("            created_at=datetime.now(UTC),"),
                lines("            created_at=datetime.now(UTC).replace(microsecond=0),  # WRONG"),
            ),
        ),
    ),
    Mistake(
        "local_time_labelled_utc",
        doc="""
        Known wrong: created_at is the phone's local time, labelled as UTC.

        The mistake: `datetime.now()` reads the wall clock of the phone's time zone; putting
        `tzinfo=UTC` on it does not convert it, it relabels it. On a phone outside UTC
        every message is hours off.

        Meant to be caught by: edge cases (the phones live in UTC+05:30), and every
        family where a new row's time is held against the clock.
        """,
        edits=(
            (
                lines("            created_at=datetime.now(UTC),"),
                lines("            created_at=datetime.now().replace(tzinfo=UTC),  # WRONG"),
            ),
        ),
    ),
    Mistake(
        "rollback_restamps_created_at",
        doc="""
        Known wrong: a failed message is stamped with the time it failed.

        The mistake: rollback sets created_at to now, "so the user sees when it failed".
        But created_at is when the message was written; the failure has its own reason
        on the row, and the message keeps its time until the server's copy gives it one.

        Meant to be caught by: failure and rollback (a time-out ten seconds later).
        """,
        edits=(
            (
                lines("    message.status, message.error = Status.FAILED, reason"),
                lines(
                    "    message.status, message.error = Status.FAILED, reason",
                    "    message.created_at = datetime.now(UTC)  # WRONG: when it failed",
                ),
            ),
        ),
    ),
    Mistake(
        "retry_restamps_created_at",
        doc="""
        Known wrong: a retried message is stamped with the time of the retry.

        The mistake: a retry sends the same message again (same id, same words); giving it
        a new created_at makes it another message in all but name, written when the user
        tapped retry.

        Meant to be caught by: failure and rollback (a retry a minute later).
        """,
        edits=(
            (
                lines("        message.status, message.error = Status.PENDING, None"),
                lines(
                    "        message.status, message.error = Status.PENDING, None",
                    "        message.created_at = datetime.now(UTC)  # WRONG: the retry's time",
                ),
            ),
        ),
    ),
    Mistake(
        "pending_retry_makes_a_new_row",
        doc="""
        Known wrong: a retry of a message still pending shows it again as a new row.

        The mistake: `send` builds a new row unless it finds a failed or sent one; a retry
        tapped twice, before the first came back, finds the row pending, and a second row
        with the same client id appears.

        Meant to be caught by: edge cases (retry tapped twice).
        """,
        edits=(
            (
                lines(
                    "    message = state.get(client_id) if client_id is not None else None",
                    "    if message is None:",
                ),
                lines(
                    "    message = state.get(client_id) if client_id is not None else None",
                    "    if message is None or message.status is Status.PENDING:  # WRONG",
                ),
            ),
        ),
    ),
    Mistake(
        "waits_on_the_clock_after_the_ack",
        doc="""
        Known wrong: after the ack, send sleeps half a second before confirming the row.

        The mistake: "give the echo a chance to arrive first". Every scenario's answers come
        in the right order regardless; but a real user watches "sending…" for half a second
        more after the server stored the message, on every message.

        Meant to be caught by: normal flow (a send may wait on the clock a quarter of a
        second at most).
        """,
        edits=(
            (lines("import uuid"), lines("import asyncio", "import uuid")),
            (
                lines("        reconcile(state, stored)"),
                lines(
                    "        await asyncio.sleep(0.5)  # WRONG: the user waits for nothing",
                    "        reconcile(state, stored)",
                ),
            ),
        ),
    ),
    Mistake(
        "retry_looks_from_the_bottom",
        doc="""
        Known wrong: a retry looks for its row from the bottom of the chat up.

        The mistake: "a failed message is near the bottom, where it was just sent". Not
        one that failed long ago and is retried today: looking from the bottom walks
        every row after it, more as the chat grows (rule 16). ``state.get`` finds it at
        once, wherever it is.

        Meant to be caught by: scale (old failed messages are retried too), and nothing
        else.
        """,
        edits=(
            (
                lines("    message = state.get(client_id) if client_id is not None else None"),
                lines(
                    "    message = None",
                    "    if client_id is not None:  # WRONG: walks every row after it",
                    "        found = (r for r in reversed(chat.rows) if r.client_id == client_id)",
                    "        message = next(found, None)",
                ),
            ),
        ),
    ),
    Mistake(
        "echo_first_rebuilds_the_rows",
        doc="""
        Known wrong: when the echo beat the ack, send rebuilds the chat's rows to drop any
        copy the echo might have left.

        The mistake: "the echo may have added the message twice". It did not, since
        reconcile finds the row by its client id; and rebuilding walks every row, so each
        echo that wins the race costs more as the chat grows (rule 16).

        Meant to be caught by: scale (acks after their echo are timed too), and nothing
        else.
        """,
        edits=(
            (
                lines("    else:", "        reconcile(state, stored)"),
                lines(
                    "    else:",
                    "        if message.status is Status.SENT:  # the echo beat the ack",
                    "            chat.rows[:] = [r for r in chat.rows if r is message or r.client_id != message.client_id]  # WRONG",
                    "        reconcile(state, stored)",
                ),
            ),
        ),
    ),
    Mistake(
        "time_out_walks_to_its_row",
        doc="""
        Known wrong: send's own time-out finds the row it gives up on by walking the
        timeline.

        The mistake: "a time-out is rare, so it may be slow". It is as common as a bad
        network, and the row is one ``state.get`` away: walking every row makes each
        time-out cost more as the chat grows (rule 16).

        Meant to be caught by: scale (time-outs are timed too), and nothing else.
        """,
        edits=(
            (lines("import uuid"), lines("import asyncio", "import uuid")),
            (
                lines(
                    "        stored = await server.send(chat_id, message.client_id, body)",
                    "    except DeliveryError as error:",
                    "        rollback(state, message.client_id, error.reason)",
                ),
                lines(
                    "        stored = await asyncio.wait_for(",
                    "            server.send(chat_id, message.client_id, body), 10",
                    "        )",
                    "    except DeliveryError as error:",
                    "        rollback(state, message.client_id, error.reason)",
                    "    except TimeoutError:",
                    "        mine = [r for r in chat.rows if r.client_id == message.client_id]  # WRONG",
                    '        rollback(state, mine[0].client_id, "no answer within 10 s")',
                ),
            ),
        ),
    ),
    Mistake(
        "unsettled_kept_after_failure",
        doc="""
        Known wrong: a module dict of unsettled sends is emptied when a message is
        confirmed, never when it fails.

        The mistake: "a failed message may still be retried, so keep it handy". Its row is
        in the state already, words and all; the dict keeps an entry of every message
        that ever failed: rule 14's leak, on the failure path only.

        Meant to be caught by: scale (what a flow keeps, counted after sends that fail
        too), and nothing else.
        """,
        edits=(
            (
                lines("async def send("),
                lines("UNSETTLED: dict[str, str] = {}", "", "", "async def send("),
            ),
            (
                lines("    chat.in_flight.add(message.client_id)"),
                lines(
                    "    chat.in_flight.add(message.client_id)",
                    "    UNSETTLED[message.client_id] = body",
                ),
            ),
            (
                lines("    chat.in_flight.discard(message.client_id)"),
                lines(
                    "    chat.in_flight.discard(message.client_id)",
                    "    UNSETTLED.pop(message.client_id, None)  # WRONG: a failure keeps it",
                ),
            ),
        ),
    ),
    Mistake(
        "ids_kept_under_a_private_name",
        doc="""
        Known wrong: every client id sent is also added to a set with a private name.

        The mistake: the set of `ids_kept_at_module_level`, named ``__mine`` "because
        nobody else should touch it". A name with underscores is still a name the module
        holds: the set grows with every message, as rule 14 says it must not.

        Meant to be caught by: scale (what a flow keeps, by any name), and nothing else.
        """,
        edits=(
            (
                lines("async def send("),
                lines("__mine: set[str] = set()", "", "", "async def send("),
            ),
            (
                lines("    chat.in_flight.add(message.client_id)"),
                lines(
                    "    chat.in_flight.add(message.client_id)",
                    "    __mine.add(message.client_id)  # WRONG: never taken out",
                ),
            ),
        ),
    ),
    Mistake(
        "ids_kept_in_a_chat_of_its_own",
        doc="""
        Known wrong: every client id sent is also kept in a `Chat` the module made.

        The mistake: "the kit's own class, so it must be fine". Its ``in_flight`` set is
        only emptied for the chats of the state; this one nobody settles, so it holds an
        id for every message ever sent: rule 14's leak, in a kit object.

        Meant to be caught by: scale (what a flow keeps, the kit's objects too), and
        nothing else.
        """,
        edits=(
            (
                lines("async def send("),
                lines('MINE = Chat("every message I sent")', "", "", "async def send("),
            ),
            (
                lines("    chat.in_flight.add(message.client_id)"),
                lines(
                    "    chat.in_flight.add(message.client_id)",
                    "    MINE.in_flight.add(message.client_id)  # WRONG: never taken out",
                ),
            ),
            (lines("from chatkit import ("), lines("from chatkit import (", "    Chat,")),
        ),
    ),
    Mistake(
        "ids_kept_at_module_level",
        doc="""
        Known wrong: every client id sent is also added to a set the module keeps.

        The mistake: "to know my own messages later". The set is never emptied: it holds an
        id for every message ever sent, long after each send settled, while the state
        already knows every row. It is the leak rule 14 names, outside `in_flight`.

        Meant to be caught by: scale (what a flow keeps, counted before and after 2,000
        more sends), and nothing else.
        """,
        edits=(
            (
                lines("async def send("),
                lines("MINE: set[str] = set()", "", "", "async def send("),
            ),
            (
                lines("    chat.in_flight.add(message.client_id)"),
                lines(
                    "    chat.in_flight.add(message.client_id)",
                    "    MINE.add(message.client_id)  # WRONG: never taken out",
                ),
            ),
        ),
    ),
    Mistake(
        "ids_kept_in_a_cache",
        doc="""
        Known wrong: every client id sent goes through a ``functools.cache``.

        The mistake: "a cache makes the lookup fast". A cache with no bound remembers
        every call it ever had: one entry for every message ever sent, long after each
        send settled. It is the leak rule 14 names, kept where the flow cannot see it.

        Meant to be caught by: scale (what a flow keeps, counted before and after 2,000
        more sends), and nothing else.
        """,
        edits=(
            (
                lines("import uuid"),
                lines("import functools", "import uuid"),
            ),
            (
                lines("async def send("),
                lines(
                    "@functools.cache",
                    "def mine(client_id: str) -> bool:",
                    "    return True",
                    "",
                    "",
                    "async def send(",
                ),
            ),
            (
                lines("    chat.in_flight.add(message.client_id)"),
                lines(
                    "    chat.in_flight.add(message.client_id)",
                    "    mine(message.client_id)  # WRONG: remembered for ever",
                ),
            ),
        ),
    ),
    Mistake(
        "delivery_left_to_a_task",
        doc="""
        Known wrong: send starts a task that delivers the message, and returns at once.

        The mistake: "the screen should not wait for the network". It already does not:
        the row shows before the first await. Returning before the server answered leaves
        the send's result saying nothing of the delivery, and the task no one awaits.

        Meant to be caught by: normal flow and all timelines (and most families: the
        answer of every send arrives after send returned), told as a send that returned
        before the server answered, at its ``return``.
        """,
        edits=(
            (
                lines("import uuid"),
                lines("import asyncio", "import uuid"),
            ),
            (
                lines(
                    "    try:",
                    "        stored = await server.send(chat_id, message.client_id, body)",
                    "    except DeliveryError as error:",
                    "        rollback(state, message.client_id, error.reason)",
                    "    else:",
                    "        reconcile(state, stored)",
                    "    return message",
                ),
                lines(
                    "    DELIVERING.add(asyncio.create_task(deliver(state, server, message, body)))",
                    "    return message  # WRONG: before the server answered",
                    "",
                    "",
                    "DELIVERING: set[asyncio.Task[None]] = set()",
                    "",
                    "",
                    "async def deliver(",
                    "    state: ChatState, server: ChatServer, message: Message, body: str",
                    ") -> None:",
                    "    try:",
                    "        stored = await server.send(message.chat_id, message.client_id, body)",
                    "    except DeliveryError as error:",
                    "        rollback(state, message.client_id, error.reason)",
                    "    else:",
                    "        reconcile(state, stored)",
                ),
            ),
        ),
    ),
    Mistake(
        "settled_by_a_task",
        doc="""
        Known wrong: after the server answered, send starts a task that confirms the row,
        and returns the row still pending.

        The mistake: "reconcile can happen in the background". By the time send returns,
        its row must show sent or failed: whatever awaits send gets a pending row, though
        the server already answered.

        Meant to be caught by: normal flow and all timelines, told as a send that returned
        while its message still showed pending, at its ``return``.
        """,
        edits=(
            (
                lines("import uuid"),
                lines("import asyncio", "import uuid"),
            ),
            (
                lines(
                    "    else:",
                    "        reconcile(state, stored)",
                    "    return message",
                ),
                lines(
                    "    else:",
                    "        SETTLING.add(asyncio.create_task(settle(state, stored)))",
                    "    return message  # WRONG: still pending",
                    "",
                    "",
                    "SETTLING: set[asyncio.Task[None]] = set()",
                    "",
                    "",
                    "async def settle(state: ChatState, stored: ServerMessage) -> None:",
                    "    reconcile(state, stored)",
                ),
            ),
        ),
    ),
    Mistake(
        "raises_after_rollback",
        doc="""
        Known wrong: send rolls the row back, then raises the DeliveryError all the same.

        The mistake: "the caller should know it failed". The row already says so: send's
        result is the row, and an error escaping send tells whatever awaits it that the
        send itself broke.

        Meant to be caught by: failure and rollback, told as a send that rolled back and
        raised anyway (rule 6), in send.
        """,
        edits=(
            (
                lines(
                    "    except DeliveryError as error:",
                    "        rollback(state, message.client_id, error.reason)",
                ),
                lines(
                    "    except DeliveryError as error:",
                    "        rollback(state, message.client_id, error.reason)",
                    "        raise  # WRONG: the row already says it failed",
                ),
            ),
        ),
    ),
    Mistake(
        "others_ids_kept",
        doc="""
        Known wrong: reconcile adds the id of every message from someone else to a set the
        module keeps.

        The mistake: "to notify about each one once". The set is never emptied: it grows
        with every message anyone else sends, while the state already shows each one once.

        Meant to be caught by: scale (what a flow keeps, counted before and after 2,000 of
        Bob's messages), and nothing else.
        """,
        edits=(
            (
                lines("def reconcile(state: ChatState, incoming: ServerMessage) -> None:"),
                lines(
                    "NOTIFIED: set[str] = set()",
                    "",
                    "",
                    "def reconcile(state: ChatState, incoming: ServerMessage) -> None:",
                ),
            ),
            (
                lines("        state.add(Message.from_server(incoming))"),
                lines(
                    "        NOTIFIED.add(incoming.client_id)  # WRONG: never taken out",
                    "        state.add(Message.from_server(incoming))",
                ),
            ),
        ),
    ),
    Mistake(
        "echo_first_ids_kept",
        doc="""
        Known wrong: reconcile remembers the ids whose echo beat the ack, and send forgets
        each one when its ack comes.

        The mistake: an ack that never comes (the echo came, then the send timed out) leaves
        its id in the set for good.

        Meant to be caught by: scale (what a flow keeps, counted before and after 1,000 acks
        and failures, half of them after their echo), and nothing else.
        """,
        edits=(
            (
                lines("def reconcile(state: ChatState, incoming: ServerMessage) -> None:"),
                lines(
                    "ECHO_FIRST: set[str] = set()",
                    "",
                    "",
                    "def reconcile(state: ChatState, incoming: ServerMessage) -> None:",
                ),
            ),
            (
                lines("    else:", "        reconcile(state, stored)"),
                lines(
                    "    else:",
                    "        reconcile(state, stored)",
                    "        ECHO_FIRST.discard(message.client_id)",
                ),
            ),
            (
                lines("    message.confirm(incoming)"),
                lines(
                    "    if message.client_id in state.chat(message.chat_id).in_flight:",
                    "        ECHO_FIRST.add(message.client_id)  # WRONG: forgotten only at the ack",
                    "    message.confirm(incoming)",
                ),
            ),
        ),
    ),
    Mistake(
        "stale_retry_kept",
        doc="""
        Known wrong: send notes each message on its way in a dict the module keeps, before it
        looks whether the message was sent already.

        The mistake: settling takes the entry out again, but a retry tapped on a message
        already sent returns at once, and its entry stays for good.

        Meant to be caught by: scale (what a flow keeps, counted before and after 2,000 more
        sends, retries and echoes, a retry of a sent message among them), and nothing else.
        """,
        edits=(
            (
                lines("async def send("),
                lines("ON_ITS_WAY: dict[str, Message] = {}", "", "", "async def send("),
            ),
            (
                lines("    elif message.status is Status.SENT:"),
                lines(
                    "    ON_ITS_WAY[message.client_id] = message  # WRONG: before the check",
                    "    if message.status is Status.SENT:",
                ),
            ),
            (
                lines(
                    "    return message",
                    "",
                    "",
                    "def reconcile(state: ChatState, incoming: ServerMessage) -> None:",
                ),
                lines(
                    "    ON_ITS_WAY.pop(message.client_id, None)",
                    "    return message",
                    "",
                    "",
                    "def reconcile(state: ChatState, incoming: ServerMessage) -> None:",
                ),
            ),
        ),
    ),
    Mistake(
        "own_time_out_not_caught",
        doc="""
        Known wrong: send puts a time-out of its own around the server call, and does not
        catch it.

        The mistake: `asyncio.wait_for(..., 10)` raises `TimeoutError` when the server is
        slower than that, not `DeliveryError`; the row stays pending, "sending…" never ends
        and the error reaches the app. In a scenario, the flow's own time-out runs out when
        the script's server gives up.

        Meant to be caught by: failure and rollback (a time-out).
        """,
        edits=(
            (lines("import uuid"), lines("import asyncio", "import uuid")),
            (
                lines("        stored = await server.send(chat_id, message.client_id, body)"),
                lines(
                    "        request = server.send(chat_id, message.client_id, body)",
                    "        stored = await asyncio.wait_for(request, 10)  # WRONG: TimeoutError escapes",
                ),
            ),
        ),
    ),
    Mistake(
        "new_id_after_two_retries",
        doc="""
        Known wrong: after two retries, send gives up on the message's id and starts afresh.

        The mistake: the third retry is sent under a new client id, so a server that stored
        an earlier attempt (its ack was lost) stores the words a second time, and the screen
        shows the failed row beside the new one.

        Meant to be caught by: edge cases (a message retried five times).
        """,
        edits=(
            (
                lines("    message = state.get(client_id) if client_id is not None else None"),
                lines(
                    "    if client_id is not None:",
                    "        _retries[client_id] = _retries.get(client_id, 0) + 1",
                    "        if _retries[client_id] > 2:",
                    "            client_id = None  # WRONG: a fresh start under a new id",
                    "    message = state.get(client_id) if client_id is not None else None",
                ),
            ),
            (
                lines("", "", "async def send("),
                lines("", "", "_retries: dict[str, int] = {}", "", "", "async def send("),
            ),
        ),
    ),
    Mistake(
        "awaits_before_showing",
        doc="""
        Known wrong: send gives the event loop a turn before it shows the message.

        The mistake: one ``await`` before the row is on screen (here ``asyncio.sleep(0)``,
        elsewhere a lock or a database call) and the screen can be drawn without it: the
        message is not instant any more.

        Meant to be caught by: normal flow (the message shows as pending at once).
        """,
        edits=(
            (lines("import uuid"), lines("import asyncio", "import uuid")),
            (
                lines("    check_body(body)"),
                lines(
                    "    check_body(body)",
                    "    await asyncio.sleep(0)  # WRONG: the screen can be drawn before the row is there",
                ),
            ),
        ),
    ),
    Mistake(
        "awaits_history_before_showing",
        doc="""
        Known wrong: send loads the chat's history before it shows the message.

        The mistake: any call to the server is a trip over the network, and while it
        travels the screen is drawn without the new row. It looks harmless because the
        history call answers at once in a quick test.

        Meant to be caught by: normal flow (the message shows as pending at once).
        """,
        edits=(
            (
                lines("    check_body(body)"),
                lines(
                    "    check_body(body)",
                    "    await server.history(chat_id)  # WRONG: a network trip before the row is there",
                ),
            ),
        ),
    ),
    Mistake(
        "sending_shown_a_turn_late",
        doc="""
        Known wrong: the pending row is on screen one turn before the chat says "sending…".

        The mistake: the row is added, then the send awaits something, and only then
        puts the id in ``in_flight``: for that turn the screen shows a pending message
        in a chat that does not say it is sending.

        Meant to be caught by: normal flow ("sending…" whenever a send is unsettled).
        """,
        edits=(
            (lines("import uuid"), lines("import asyncio", "import uuid")),
            (
                lines("    chat.in_flight.add(message.client_id)"),
                lines(
                    "    await asyncio.sleep(0)  # WRONG: the screen is drawn before in_flight is set",
                    "    chat.in_flight.add(message.client_id)",
                ),
            ),
        ),
    ),
    Mistake(
        "failure_reason_kept_after_confirm",
        doc="""
        Known wrong: a late confirmation marks the row sent but leaves its failure reason.

        The mistake: reconcile copies the server's fields by hand and forgets ``error``, so
        a message that failed and was then confirmed says "sent" and "not delivered" at once.

        Meant to be caught by: edge cases (a late ack after a time-out).
        """,
        edits=(
            (
                lines("    message.confirm(incoming)"),
                lines(
                    "    message.server_id, message.seq = incoming.id, incoming.seq",
                    "    message.created_at, message.status = incoming.created_at, Status.SENT",
                    "    # WRONG: message.error keeps the old failure reason",
                ),
            ),
        ),
    ),
    Mistake(
        "words_tidied_before_sending",
        doc="""
        Known wrong: send trims the spaces around the user's words before it shows and sends them.

        The mistake: the message is the user's, exactly as typed; tidying it up changes what
        they said (and a retry or a second device would disagree about the words).

        Meant to be caught by: edge cases (words are shown and sent exactly as typed).
        """,
        edits=(
            (
                lines("    check_body(body)"),
                lines(
                    "    check_body(body)",
                    "    body = body.strip()  # WRONG: the user's words are theirs",
                ),
            ),
        ),
    ),
    Mistake(
        "windows_line_breaks_tidied",
        doc="""
        Known wrong: send turns Windows line breaks (``\\r\\n``) into ``\\n`` before showing
        and sending the words.

        The mistake: "the same line break, only tidier". The words are the user's as
        typed, every character of them (rule 6): the server stores them as sent, and
        another device shows them as stored.

        Meant to be caught by: edge cases (the words are shown and sent exactly as typed).
        """,
        edits=(
            (
                lines("    check_body(body)"),
                lines(
                    "    check_body(body)",
                    '    body = body.replace("\\r\\n", "\\n")  # WRONG: the words are the user\'s',
                ),
            ),
        ),
    ),
    Mistake(
        "rollback_tidies_the_words",
        doc="""
        Known wrong: rollback trims the spaces around a failed message's words.

        The mistake: "a failed message is the flow's to tidy". It is still the user's
        message, to be retried as it is: the row must keep the words exactly as typed.

        Meant to be caught by: failure and rollback (a failed message keeps its words).
        """,
        edits=(
            (
                lines("    message.status, message.error = Status.FAILED, reason"),
                lines(
                    "    message.status, message.error = Status.FAILED, reason",
                    "    message.body = message.body.strip()  # WRONG: the words are the user's",
                ),
            ),
        ),
    ),
    Mistake(
        "retry_tidies_the_words",
        doc="""
        Known wrong: a retry trims the spaces around the words before sending them again.

        The mistake: "the first try went wrong, so clean the message up". The retry must
        send the same words: the server may already have stored them, and the user sees
        them as they typed them.

        Meant to be caught by: failure and rollback (a retry sends the words as typed).
        """,
        edits=(
            (
                lines("    check_body(body)"),
                lines(
                    "    check_body(body)",
                    "    if client_id is not None:",
                    "        body = body.strip()  # WRONG: the retry must send the same words",
                ),
            ),
        ),
    ),
    Mistake(
        "retry_returns_nothing",
        doc="""
        Known wrong: a retry hands back None instead of the row it shows.

        The mistake: "the caller already has the row". Whoever taps retry follows the row
        send returns, like after any send; None leaves them with nothing to follow.

        Meant to be caught by: failure and rollback (send returns its row, retries too).
        """,
        edits=(
            (
                lines(
                    "        reconcile(state, stored)",
                    "    return message",
                ),
                lines(
                    "        reconcile(state, stored)",
                    "    return message if client_id is None else None  # WRONG: a retry's row too",
                ),
            ),
        ),
    ),
    Mistake(
        "rollback_in_the_open_chat",
        doc="""
        Known wrong: rollback marks the failure in the chat last sent into.

        The mistake: "the failure is where the user is looking". But a send can fail long
        after the user went on to another chat: its "sending…" and its banner belong to the
        chat the message is in.

        Meant to be caught by: concurrency (a failure in the chat you left).
        """,
        edits=(
            (
                lines("    check_body(body)", "    chat = state.chat(chat_id)"),
                lines(
                    "    check_body(body)",
                    "    chat = state.chat(chat_id)",
                    "    OPEN[:] = [chat_id]",
                ),
            ),
            (
                lines("def reconcile(state: ChatState, incoming: ServerMessage) -> None:"),
                lines(
                    "OPEN: list[str] = []",
                    '"""The chat the user last sent into."""',
                    "",
                    "",
                    "def reconcile(state: ChatState, incoming: ServerMessage) -> None:",
                ),
            ),
            (
                lines(
                    "    chat = state.chat(message.chat_id)",
                    "    chat.in_flight.discard(client_id)",
                ),
                lines(
                    "    chat = state.chat(OPEN[0] if OPEN else message.chat_id)  # WRONG: its own chat",
                    "    chat.in_flight.discard(client_id)",
                ),
            ),
        ),
    ),
    Mistake(
        "stale_retry_clears_the_banner",
        doc="""
        Known wrong: a retry of a message already confirmed clears the chat's banner.

        The mistake: "the retry went fine, so all is well". Nothing was sent: the banner
        tells of another message that really failed, and must stay until a send gets through.

        Meant to be caught by: edge cases (a stale retry leaves the banner of a real failure).
        """,
        edits=(
            (
                lines(
                    "    elif message.status is Status.SENT:",
                    "        return message  # a retry of something the server already confirmed",
                ),
                lines(
                    "    elif message.status is Status.SENT:",
                    "        chat.error = None  # WRONG: another message's failure still stands",
                    "        return message",
                ),
            ),
        ),
    ),
    Mistake(
        "blank_checked_by_hand",
        doc="""
        Known wrong: send refuses a blank message by its own test, spaces and newlines only.

        The mistake: "blank means spaces". A tab, a no-break space or a wide space is blank
        too: the row shows nothing, and the server stores an empty-looking message.
        `check_body` knows every kind of space.

        Meant to be caught by: edge cases (a whitespace-only message is refused).
        """,
        edits=(
            (
                lines("    check_body(body)", "    chat = state.chat(chat_id)"),
                lines(
                    '    if not body.strip(" \\n"):  # WRONG: a tab or a no-break space is blank too',
                    '        raise InvalidMessage("a message cannot be empty")',
                    "    if len(body) > MAX_BODY_CHARS:",
                    '        raise InvalidMessage("a message is too long")',
                    "    chat = state.chat(chat_id)",
                ),
            ),
            (
                lines("    DeliveryError,"),
                lines("    MAX_BODY_CHARS,", "    DeliveryError,", "    InvalidMessage,"),
            ),
        ),
    ),
    Mistake(
        "copy_returned_after_failure",
        doc="""
        Known wrong: after a rollback, send hands back a copy of the failed row.

        The mistake: the caller keeps an eye on what send returned; a copy stops following
        the row on screen, so a later retry or a late ack never shows there.

        Meant to be caught by: failure and rollback (a refused send returns its row).
        """,
        edits=(
            (lines("import uuid"), lines("import copy", "import uuid")),
            (
                lines("        rollback(state, message.client_id, error.reason)"),
                lines(
                    "        rollback(state, message.client_id, error.reason)",
                    "        return copy.copy(message)  # WRONG: a copy, not the row on screen",
                ),
            ),
        ),
    ),
    Mistake(
        "created_at_read_at_import",
        doc="""
        Known wrong: every message's created_at is the time the module was loaded.

        The mistake: a default argument is worked out once, when the ``def`` runs, so
        ``_now()`` returns the same instant for ever, however much time goes by.

        Meant to be caught by: edge cases (a message a minute later carries the new time).
        """,
        edits=(
            (
                lines("async def send("),
                lines(
                    "def _now(at: datetime = datetime.now(UTC)) -> datetime:  # WRONG: read once",
                    "    return at",
                    "",
                    "",
                    "async def send(",
                ),
            ),
            (
                lines("            created_at=datetime.now(UTC),"),
                lines("            created_at=_now(),"),
            ),
        ),
    ),
    Mistake(
        "others_in_open_chat",
        doc="""
        Known wrong: someone else's message is put into the chat you last sent in.

        The mistake: reconcile draws a new message into "the chat on screen", remembered
        from the last send, instead of the chat the message names. Bob's message in another
        chat shows up in the wrong one.

        Meant to be caught by: concurrency (Bob writes in another chat after you send in one).
        """,
        edits=(
            (
                lines("", "", "async def send("),
                lines("", "", "_open_chat: str | None = None", "", "", "async def send("),
            ),
            (
                lines("    check_body(body)"),
                lines(
                    "    check_body(body)",
                    "    global _open_chat",
                    "    _open_chat = chat_id  # the chat on screen",
                ),
            ),
            (
                lines("        state.add(Message.from_server(incoming))"),
                lines(
                    "        row = Message.from_server(incoming)",
                    "        # WRONG: drawn into the chat you last sent in, not the one it belongs to",
                    "        state.chat(_open_chat or incoming.chat_id).rows.append(row)",
                    "        state.messages[row.client_id] = row",
                ),
            ),
        ),
    ),
    Mistake(
        "dedup_by_seq_only",
        doc="""
        Known wrong: a message whose seq was already shown is taken for a repeat.

        The mistake: seq looks like the server's unique number, but each chat numbers its
        own messages from 1. Another chat's #1 is another message, and it is dropped.

        Meant to be caught by: concurrency (Bob writes in another chat) and duplicates (the
        same seq in two chats).
        """,
        edits=(
            (
                lines("", "", "async def send("),
                lines("", "", "_by_seq: dict[int, str] = {}", "", "", "async def send("),
            ),
            (
                lines("        state.add(Message.from_server(incoming))"),
                lines(
                    "        shown = _by_seq.get(incoming.seq)",
                    "        if shown is not None and state.get(shown) is not None:",
                    "            return  # WRONG: seq is per chat; another chat's #1 is another message",
                    "        _by_seq[incoming.seq] = incoming.client_id",
                    "        state.add(Message.from_server(incoming))",
                ),
            ),
            (
                lines("    message.confirm(incoming)"),
                lines(
                    "    message.confirm(incoming)",
                    "    _by_seq[incoming.seq] = incoming.client_id",
                ),
            ),
        ),
    ),
    Mistake(
        "dedup_others_by_seq",
        doc="""
        Known wrong: other people's messages are told apart by their seq alone.

        The mistake: a set of the seqs seen so far drops any new message whose seq is in
        it, but seq is only unique within one chat, and a reload must show a message again.

        Meant to be caught by: duplicates (the same seq in two chats; a reload twice).
        """,
        edits=(
            (
                lines("", "", "async def send("),
                lines("", "", "_seen_seqs: set[int] = set()", "", "", "async def send("),
            ),
            (
                lines("        state.add(Message.from_server(incoming))"),
                lines(
                    "        if incoming.seq in _seen_seqs:  # WRONG: seq is per chat",
                    "            return",
                    "        _seen_seqs.add(incoming.seq)",
                    "        state.add(Message.from_server(incoming))",
                ),
            ),
        ),
    ),
    Mistake(
        "rollback_only_while_pending",
        doc="""
        Known wrong: a refusal of a message already shown failed is ignored.

        The mistake: rollback undoes only a pending row. Retry tapped twice, and both
        attempts refused: the second refusal is dropped, so the row and the banner keep
        the older reason.

        Meant to be caught by: edge cases (retry tapped twice and refused again).
        """,
        edits=(
            (
                lines("    if message is None or message.status is Status.SENT:"),
                lines(
                    "    if message is None or message.status is not Status.PENDING:"
                    "  # WRONG: failed is news too"
                ),
            ),
        ),
    ),
    Mistake(
        "ack_only_while_pending",
        doc="""
        Known wrong: an ack reaches reconcile only while its row is still pending.

        The mistake: send hands the server's answer to reconcile only if the row still
        shows pending. Retry tapped twice: the first retry is refused (the row turns
        failed), the second is stored; its ack is dropped, and a message the server has
        stays failed.

        Meant to be caught by: edge cases (retry tapped twice, refused, then stored).
        """,
        edits=(
            (
                lines("    else:", "        reconcile(state, stored)"),
                lines(
                    "    else:",
                    "        if message.status is Status.PENDING:  # WRONG: a failed row's ack is news",
                    "            reconcile(state, stored)",
                ),
            ),
        ),
    ),
    Mistake(
        "id_and_seq_swapped",
        doc="""
        Known wrong: a confirmed row takes the server's id as its seq, and its seq as its id.

        The mistake: confirming by hand, with the two numbers the wrong way round. While the
        server holds one chat they are the same number; with two chats they are not.

        Meant to be caught by: normal flow (the confirmed row takes its id and time from the
        server, after messages of another chat), and concurrency (a burst across chats).
        """,
        edits=(
            (
                lines("    message.confirm(incoming)"),
                lines(
                    "    message.confirm(incoming)",
                    "    message.server_id, message.seq = incoming.seq, incoming.id  # WRONG: swapped",
                ),
            ),
        ),
    ),
    Mistake(
        "retries_by_itself",
        doc="""
        Known wrong: send tries the server once more by itself before it rolls back.

        The mistake: "a quiet retry, so the user never sees a failure". The send then
        waits for a second answer instead of settling with the one it got: a refusal or a
        time-out leaves "sending…" up, and the message pending, until that answer comes.
        Sending again is the user's retry to tap.

        Meant to be caught by: failure and rollback (every send finishes).
        """,
        edits=(
            (
                lines("        stored = await server.send(chat_id, message.client_id, body)"),
                lines(
                    "        try:",
                    "            stored = await server.send(chat_id, message.client_id, body)",
                    "        except DeliveryError:  # WRONG: settle with the answer you got",
                    "            stored = await server.send(chat_id, message.client_id, body)",
                ),
            ),
        ),
    ),
    Mistake(
        "seen_lately_skipped",
        doc="""
        Known wrong: a message seen lately is skipped, even when a reload brings it back.

        The mistake: reconcile keeps the last 500 client ids it showed and drops any message
        whose id is among them. After a reload replaces the chat, the server's list brings
        those messages again, and they vanish.

        Meant to be caught by: duplicates (a reload after an echo).
        """,
        edits=(
            (lines("import uuid"), lines("import uuid", "from collections import deque")),
            (
                lines("", "", "async def send("),
                lines(
                    "",
                    "",
                    "_seen_lately: deque[str] = deque(maxlen=500)",
                    "",
                    "",
                    "async def send(",
                ),
            ),
            (
                lines("        state.add(Message.from_server(incoming))"),
                lines(
                    "        if incoming.client_id in _seen_lately:  # WRONG: a reload shows it again",
                    "            return",
                    "        _seen_lately.append(incoming.client_id)",
                    "        state.add(Message.from_server(incoming))",
                ),
            ),
        ),
    ),
    Mistake(
        "others_dedup_by_author_body",
        doc="""
        Known wrong: someone else's message with the same words as their last one is dropped.

        The mistake: reconcile takes Bob's second "ok" for a repeat of his first, because
        the author and the words are the same. They are two messages, with two client ids.

        Meant to be caught by: duplicates (Bob says the same thing twice).
        """,
        edits=(
            (
                lines("", "", "async def send("),
                lines(
                    "", "", "_said: dict[tuple[str, str, str], str] = {}", "", "", "async def send("
                ),
            ),
            (
                lines("        state.add(Message.from_server(incoming))"),
                lines(
                    "        key = (incoming.chat_id, incoming.author, incoming.body)",
                    "        earlier = _said.get(key)",
                    "        if earlier is not None and state.get(earlier) is not None:",
                    "            return  # WRONG: the same words do not make the same message",
                    "        _said[key] = incoming.client_id",
                    "        state.add(Message.from_server(incoming))",
                ),
            ),
        ),
    ),
    Mistake(
        "escape_incoming",
        doc="""
        Known wrong: other people's words are escaped for HTML before they are shown.

        The mistake: the screen shows text, not HTML, so "a < b" turns into "a &lt; b". The
        server's copy is the truth, every character of it.

        Meant to be caught by: edge cases (everyone's words as the server stored them).
        """,
        edits=(
            (
                lines("        state.add(Message.from_server(incoming))"),
                lines(
                    "        row = Message.from_server(incoming)",
                    "        # WRONG: escaping again: 'a < b' shows as 'a &lt; b'",
                    '        row.body = incoming.body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")',
                    "        state.add(row)",
                ),
            ),
        ),
    ),
    Mistake(
        "length_in_bytes",
        doc="""
        Known wrong: the length limit is counted in bytes.

        The mistake: the limit is 2,000 characters. In UTF-8 a Cyrillic letter takes two
        bytes and an emoji four, so a message well within the limit is refused.

        Meant to be caught by: edge cases (the limit counts characters, not bytes).
        """,
        edits=(
            (lines("    Status,"), lines("    Status,", "    InvalidMessage,")),
            (
                lines("    check_body(body)"),
                lines(
                    "    check_body(body)",
                    "    if len(body.encode()) > 2000:  # WRONG: the limit is characters, not bytes",
                    '        raise InvalidMessage("a message can be at most 2000 characters")',
                ),
            ),
        ),
    ),
    Mistake(
        "strip_before_check",
        doc="""
        Known wrong: the body is checked without the spaces around it, then sent with them.

        The mistake: the limit is on what is sent, and the words are sent as typed, so a
        message over the limit only by its spaces gets through.

        Meant to be caught by: edge cases (spaces count towards the limit).
        """,
        edits=(
            (
                lines("    check_body(body)"),
                lines("    check_body(body.strip())  # WRONG: the limit is on what is sent"),
            ),
        ),
    ),
    Mistake(
        "retry_keeps_error",
        doc="""
        Known wrong: a retry puts the row back to pending but leaves its failure reason.

        The mistake: the row says "sending" and "not delivered" at once while the retry
        travels.

        Meant to be caught by: edge cases and failure and rollback (every retry).
        """,
        edits=(
            (
                lines("        message.status, message.error = Status.PENDING, None"),
                lines(
                    "        message.status = Status.PENDING  # WRONG: the old failure reason stays on the row"
                ),
            ),
        ),
    ),
    Mistake(
        "naive_datetime",
        doc="""
        Known wrong: a new message is stamped with the local time, without its time zone.

        The mistake: ``datetime.now()`` reads the phone's wall clock and says nothing of its
        zone: the same instant reads differently on every phone, and it cannot be set beside
        the server's times.

        Meant to be caught by: normal flow (every new message).
        """,
        edits=(
            (
                lines("            created_at=datetime.now(UTC),"),
                lines("            created_at=datetime.now(),  # WRONG: naive local time"),
            ),
        ),
    ),
    Mistake(
        "old_messages_walked_into_place",
        doc="""
        Known wrong: a new row is walked back, past every newer row, to its place in server order.

        The mistake: a new message usually goes at the end, so this looks free; but an old
        message arriving late walks past the whole history. The screen orders confirmed rows
        by seq by itself: each event costs O(n) for nothing.

        Meant to be caught by: scale (older messages on a long history), and nothing else.
        """,
        edits=(
            (
                lines("        state.add(Message.from_server(incoming))"),
                lines(
                    "        row = Message.from_server(incoming)",
                    "        rows = state.chat(incoming.chat_id).rows",
                    "        place = len(rows)  # WRONG: walks back past every newer row",
                    "        while place and (rows[place - 1].seq is None or rows[place - 1].seq > incoming.seq):",
                    "            place -= 1",
                    "        rows.insert(place, row)",
                    "        state.messages[row.client_id] = row",
                ),
            ),
        ),
    ),
    Mistake(
        "old_messages_shifted_into_place",
        doc="""
        Known wrong: someone else's message is inserted at its place in server order.

        The mistake: `bisect.insort` finds the place in a few steps, so this looks cheap;
        but inserting into a list shifts every row after the place, and an old message
        arriving late goes before the whole history. Each shift is fast (done in C), so
        it costs only a few times more on a long history, and more again on a longer one.
        The screen orders confirmed rows by seq by itself.

        Meant to be caught by: scale (older messages on a long history), and nothing else.
        """,
        edits=(
            (lines("import uuid"), lines("import bisect", "import uuid")),
            (
                lines("        state.add(Message.from_server(incoming))"),
                lines(
                    "        row = Message.from_server(incoming)",
                    "        rows = state.chat(incoming.chat_id).rows  # WRONG: shifts the rows",
                    "        bisect.insort(rows, row, key=lambda r: (r.seq is None, r.seq or 0))",
                    "        state.messages[row.client_id] = row",
                ),
            ),
        ),
    ),
    Mistake(
        "retry_walks_to_its_row",
        doc="""
        Known wrong: a retry finds its row by walking the chat's rows.

        The mistake: "a retry is rare, a loop will do". Every retry then walks the whole
        timeline to the failed row at its bottom, when the state's index by client id
        finds it at once.

        Meant to be caught by: scale (sends on a long history, with retries), and nothing else.
        """,
        edits=(
            (
                lines("    message = state.get(client_id) if client_id is not None else None"),
                lines(
                    "    message = next(  # WRONG: walks the timeline",
                    "        (row for row in chat.rows if row.client_id == client_id), None",
                    "    )",
                ),
            ),
        ),
    ),
    Mistake(
        "late_confirmation_moves_the_row",
        doc="""
        Known wrong: a failed row confirmed late is moved to the bottom of the chat's rows.

        The mistake: "it is sent now, so put it after the others". The screen already
        shows confirmed rows in server order; taking the row out of the list and putting
        it back walks and shifts the whole timeline, for every late confirmation.

        Meant to be caught by: scale (sends on a long history, with late echoes), and
        nothing else.
        """,
        edits=(
            (
                lines(
                    "    message.confirm(incoming)",
                    "    chat = state.chat(message.chat_id)",
                ),
                lines(
                    "    was_failed = message.status is Status.FAILED",
                    "    message.confirm(incoming)",
                    "    chat = state.chat(message.chat_id)",
                    "    if was_failed:  # WRONG: walks and shifts the timeline",
                    "        chat.rows.remove(message)",
                    "        chat.rows.append(message)",
                ),
            ),
        ),
    ),
    Mistake(
        "new_id_checked_against_rows",
        doc="""
        Known wrong: a new client id is checked against every row of the chat before use.

        The mistake: "just in case", `send` draws a fresh id again while it equals one
        already on screen. A random id of 128 bits never meets another, so the check
        finds nothing; but it walks the whole timeline for every message sent.

        Meant to be caught by: scale (sends on a long history), and nothing else.
        """,
        edits=(
            (
                lines("            client_id=client_id or uuid.uuid4().hex,"),
                lines("            client_id=client_id or fresh_id(chat),"),
            ),
            (
                lines("def reconcile(state: ChatState, incoming: ServerMessage) -> None:"),
                lines(
                    "def fresh_id(chat) -> str:",
                    "    taken = [row.client_id for row in chat.rows]  # WRONG: walks the timeline",
                    "    new = uuid.uuid4().hex",
                    "    while new in taken:",
                    "        new = uuid.uuid4().hex",
                    "    return new",
                    "",
                    "",
                    "def reconcile(state: ChatState, incoming: ServerMessage) -> None:",
                ),
            ),
        ),
    ),
)
"""Plausible mistakes, each caught by the families its docstring names."""

SUBTLE: tuple[Mistake, ...] = (
    Mistake(
        "failed_rows_sink",
        doc="""
        Subtly wrong: a new message is shown above your failed ones, which sink to the bottom.

        The "feature": failed messages wait at the very bottom of the chat, next to their
        retry buttons, so `send` inserts each new pending row just above the failed rows at
        the end, instead of after them.

        The mistake: the timeline shows the unconfirmed messages in the order they were sent
        (rule 5). A message that failed was sent before the one you type now, so it stays
        above it; only a confirmed message moves, into server order. In every hand-written
        scenario either the new message is confirmed before anyone looks, or nothing had
        failed yet when it was sent, so they all pass; the ordering "a message fails, then
        you send another" shows the mistake at once.
        """,
        edits=(
            (
                lines("        state.add(message)"),
                lines(
                    "        # Failed messages stay at the bottom, next to their retry button: the new",
                    "        # one goes just above them.  (The mistake: unconfirmed ones keep the order",
                    "        # they were sent in.)",
                    "        rows = chat.rows",
                    "        place = len(rows)",
                    "        while place and rows[place - 1].status is Status.FAILED:",
                    "            place -= 1",
                    "        rows.insert(place, message)",
                    "        state.messages[message.client_id] = message",
                ),
            ),
        ),
    ),
    Mistake(
        "same_words_resend",
        doc="""
        Subtly wrong: typing the same words again after they failed resends the failed message.

        The "feature": if you send exactly what a failed message of yours says, this flow
        treats it as a retry of that message — it reuses the failed message's client id and
        turns the failed row back to pending — so the chat does not show the words twice.

        The mistake: two messages with the same words are two messages (rule 13), and every
        new message gets an id of its own (rule 10). The user pressed enter on a new message,
        not on the retry button: the failed one must stay failed, and the new one must show
        below it with a fresh id. Every hand-written scenario sends its identical bodies while
        the first one is still pending, so they all pass; only an ordering in which the
        second "ok" is sent *after* the first one failed shows the mistake.
        """,
        edits=(
            (
                lines("    chat = state.chat(chat_id)"),
                lines(
                    "    chat = state.chat(chat_id)",
                    "    if client_id is None:",
                    "        # The same words as a message that failed: resend that one instead of",
                    "        # showing the words twice.  (The mistake: this is a new message.)",
                    "        for row in reversed(chat.rows):  # the rows after the last confirmed",
                    "            if row.status is Status.SENT:",
                    "                break",
                    "            if row.status is Status.FAILED and row.body == body:",
                    "                client_id = row.client_id",
                    "                break",
                ),
            ),
        ),
    ),
)
"""Mistakes that pass every hand-written scenario, caught only by "all timelines"."""

# Broken code: each kind of crash, hang or flood a learner's flow can have, as one edit of
# the solution (``test_broken_code.py``, ``benchmarks/broken_code.py``).

SEND = "    check_body(body)\n"
RECONCILE = "    message = state.get(incoming.client_id)\n"

BROKEN: dict[str, tuple[str, str]] = {
    "syntax error": ("def rollback(", "def rollback(:"),
    "exception in send": (SEND, SEND + "    raise ValueError('oops')\n"),
    "NameError in send": (SEND, SEND + "    undefined_helper()\n"),
    "KeyboardInterrupt": (SEND, SEND + "    raise KeyboardInterrupt\n"),
    "SystemExit": (SEND, SEND + "    raise SystemExit(3)\n"),
    "RecursionError": (
        SEND,
        SEND + "    check_body(body)\n    return await send(state, server, chat_id, body)\n",
    ),
    "endless loop in send": (SEND, SEND + "    while True:\n        pass\n"),
    "endless loop in reconcile": (RECONCILE, "    while True:\n        pass\n" + RECONCILE),
    "a loop that swallows the stop": (
        SEND,
        SEND + "    while True:\n        try:\n            while True:\n                pass\n"
        "        except BaseException:\n            pass\n",
    ),
    "time.sleep(30) in reconcile": (RECONCILE, "    time.sleep(30)\n" + RECONCILE),
    "awaits forever": (SEND, SEND + "    await asyncio.Event().wait()\n"),
    "3 GB allocation": (
        SEND,
        SEND
        + "    hoard = bytearray(3 * 1024**3)\n    hoard[::4096] = b'x' * len(hoard[::4096])\n",
    ),
    "100 MB of output": (SEND, SEND + "    for _ in range(1000):\n        print('x' * 100_000)\n"),
    "async def reconcile": ("def reconcile(", "async def reconcile("),
    "plain def send": ("async def send(", "def send("),
    "exit at import": ("import uuid\n", "import uuid\n\nraise SystemExit(1)\n"),
}
BROKEN_IMPORTS = "import asyncio\nimport time\n"


def broken_source(name: str) -> str:
    """The solution with the broken edit ``name`` (and the imports the edits use)."""
    old, new = BROKEN[name]
    source = SOLUTION.read_text()
    if old not in source:
        raise MistakeOutdated(f"broken flow {name!r}: its text is not in solution/flow.py:\n{old}")
    source = source.replace(old, new, 1)
    return source.replace("import uuid\n", BROKEN_IMPORTS + "import uuid\n", 1)


CLASS_TIMEOUT = 900
"""The time limit of a test that reads ``graded_mistake`` (``conftest.py``): the first
such test of a run waits while every mistake here is graded, as one class (71 flows:
about five minutes on two quiet cores, more beside ``pytest -n 2``'s other worker). A
guard against a hang, not a speed test: a machine busy with other work must not fail it."""

MISTAKES: dict[str, Mistake] = {mistake.name: mistake for mistake in (*WRONG, *SUBTLE)}


def write_all(folder: Path, mistakes: tuple[Mistake, ...] = (*WRONG, *SUBTLE)) -> dict[str, Path]:
    """Write the flow of each mistake into ``folder``: its name, and the flow's path."""
    return {mistake.name: write_flow(mistake, folder) for mistake in mistakes}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {sys.argv[0]} OUT_DIR  (writes OUT_DIR/<mistake>/flow.py)")
    for name, path in write_all(Path(sys.argv[1])).items():
        print(f"{name:<22} {path}")
