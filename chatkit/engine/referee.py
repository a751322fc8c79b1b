"""What is checked: every call a phone makes as it arrives, every rule after every step.

The referee hears each phone as it goes (`chatkit.engine.remote.Hooks`): a send that
first gives up control must already show its row (rule 1), a call of ``server.send``
must carry a fresh client id (rule 10) or the failed one (rule 8) and the words as
typed. After each step it checks every phone's rule watch, and says which of the
learner's functions, and which line, made the change that broke a rule. A scenario's
own expectations (``kit.expect``, ``kit.expect_flags``) are checked here too.
"""

from __future__ import annotations

from typing import TypeVar

from chatkit.blame import CREATED
from chatkit.engine.cast import FALLBACK, Cast, Sending
from chatkit.engine.remote import Op, PhoneRaised, RemotePhone
from chatkit.engine.rules import (
    ID_SAMPLE,
    STATUS_FIELDS,
    Rule,
    RuleBroken,
    StateShapeError,
    check_id_room,
    check_new_id,
    check_pending_on_screen,
    check_reached_server,
    check_retry_id,
    check_shown_before_first_await,
    describe_timeline,
)
from chatkit.engine.words import quote, whose
from chatkit.limits import SLEEP_LIMIT
from chatkit.model import TIMED_OUT, DeliveryError, InvalidMessage, Message, Status, check_body
from chatkit.script.server import Request
from chatkit.state import Chat, ChatState

Blamed = TypeVar("Blamed", RuleBroken, StateShapeError)
"""What the referee can blame on a line: a broken rule, or a state of the wrong shape."""


class Referee:
    """The checks of one scenario, over its cast."""

    def __init__(self, cast: Cast, chat_id: str) -> None:
        self.cast = cast
        self.chat_id = chat_id
        self.retrying: str | None = None
        """The client id being retried in this step, the one message whose status may go back."""
        self._client_ids: dict[str, Sending] = {}
        """Every client id a send has used so far, by any user, and the send that used it."""
        self._sendings: dict[int, Sending] = {}
        self._returns_checked: set[int] = set()
        """The sends whose returned row was checked (`_check_returned`), by their op's ``id``."""
        """Each op a phone runs for a send, by ``id``: the send it is."""
        self._own_time_outs: set[str] = set()
        """The reasons a flow gave when a time-out of its own ran out (for the server's
        time-out): each reads as the time-out's reason in the scenario's expectations."""
        self._new_ids: dict[str, list[str]] = {}
        """The first `ID_SAMPLE` new client ids of each user's phone, for `check_id_room`."""

    def _check_id_rooms(self) -> None:
        """Rule 10's room, for each phone with a full sample of new ids, against the other
        phones' ids: checked again as theirs come, since what two phones' ids both have
        is no device's own."""
        for owner, sample in self._new_ids.items():
            if len(sample) == ID_SAMPLE:
                others = [
                    each for who, ids in self._new_ids.items() if who != owner for each in ids
                ]
                try:
                    check_id_room(sample, others)
                except RuleBroken as broken:  # to blame: where its first id was made, if told yet
                    row = self.state(owner).get(sample[0])
                    if row is not None:
                        broken.about, broken.fields = (row,), CREATED
                        self.blame(broken, owner)
                    raise

    def bind(self, sending: Sending, op: Op) -> None:
        """``op`` is how its phone runs ``sending``."""
        sending.task = op
        self._sendings[id(op)] = sending

    def state(self, user: str) -> ChatState:
        return self.cast[user].client.state

    # What the phones tell, as it happens.

    def paused(self, phone: RemotePhone, op: Op, shown_before: int) -> None:
        """A send gave up control for the first time, before calling the server."""
        sending = self._sendings.get(id(op))
        if sending is None or sending.request is not None or sending.broken is not None:
            return
        try:
            check_shown_before_first_await(
                phone.state, sending.body, sending.chat_id, sending.retry_of, shown_before
            )
        except RuleBroken as broken:
            broken.blame = op.paused_at
            sending.broken = broken

    def raise_if_not_started(self, sending: Sending) -> None:
        """After a send's first run: it must have broken no rule and reached the server."""
        if sending.broken is not None:
            raise sending.broken
        if sending.request is None:
            self.raise_if_crashed(sending)
            try:
                check_reached_server(
                    sending.body, finished=sending.task.done(), shown_as=sending.shown_as
                )
            except RuleBroken as broken:  # a send stuck short of the server: where it waits
                broken.blame = broken.blame or sending.task.paused_at
                raise

    def raise_if_unfinished(self, sending: Sending, *, failing_over: bool = False) -> None:
        """Once the server answered: the send finished (or failed over), broke no rule on its
        way and raised nothing."""
        if not sending.task.done() and not failing_over:
            again = [request for request in sending.task.requests if not request.answered]
            raise RuleBroken(
                Rule.FINISHES,
                f"the server answered, but the send of {quote(sending.body)} did not finish"
                + (
                    ": it sent the message again by itself, and waits for an answer this "
                    "scenario never gives. Settle the send with the answer it got (roll back a "
                    "failure); sending again is the user's retry to tap"
                    if again
                    else ""
                ),
                blame=sending.task.called_at if again else None,
            )
        if sending.broken is not None:
            raise sending.broken
        self.raise_if_crashed(sending)
        self.raise_if_waited(sending)

    def raise_if_waited(self, sending: Sending) -> None:
        """Rule 7: a finished send did not keep its user waiting on the clock (looking at
        "sending…" for a message the server already has, or for a failure already known):
        not at all once the server answered, and not more than a moment in all."""
        task = sending.task
        if task.done() and task.slept_after_answer > 0:
            waited = RuleBroken(
                Rule.LOADING_AND_ERRORS,
                f"the send of {quote(sending.body)} waited {task.slept_after_answer:g} s on the "
                "clock (asyncio.sleep) after the server had answered it: the user waits that "
                "long for news the phone already has. Once the server answers, show it",
                function="send",
            )
            waited.blame = task.slept_after_answer_at
            raise waited
        if task.done() and task.slept >= SLEEP_LIMIT:
            waited = RuleBroken(
                Rule.LOADING_AND_ERRORS,
                f"the send of {quote(sending.body)} waited {task.slept:g} s on the clock "
                "(asyncio.sleep) before it finished: the user waits that long to see it sent, "
                "or failed. Wait for the server only: it says when a message is stored",
                function="send",
            )
            waited.blame = task.slept_at
            raise waited

    def raise_if_crashed(self, sending: Sending) -> None:
        if not sending.task.done():
            return
        if sending.task.cancelled():  # nothing in a scenario cancels a send but the send itself
            raise RuleBroken(
                Rule.FINISHES,
                f"the send of {quote(sending.body)} raised CancelledError instead of finishing",
            )
        error = sending.task.exception()
        if isinstance(error, DeliveryError):
            request = sending.request
            row = self.state(sending.user).get(request.client_id) if request else None
            rolled_back = isinstance(row, Message) and row.status is Status.FAILED
            escaped = RuleBroken(
                Rule.KEEP_WORDS,
                f"send rolled {quote(sending.body)} back, then raised "
                f"DeliveryError({error.reason!r}) all the same: once the row shows failed, "
                "return it (whatever awaits send reads the outcome from the row)"
                if rolled_back
                else f"send let DeliveryError({error.reason!r}) escape; catch it and roll back "
                "instead",
                function="send",  # the rule is rollback's, but send is where to look
            )
            escaped.blame = sending.task.raised_at
            raise escaped
        if sending.task.gave_up and isinstance(error, PhoneRaised) and error.kind == "TimeoutError":
            gave_up = RuleBroken(
                Rule.KEEP_WORDS,
                "send let TimeoutError escape: your own time-out (asyncio.wait_for or "
                "asyncio.timeout) ran out before the server answered. Catch it and roll back, "
                "with a reason the user can read",
                function="send",
            )
            gave_up.blame = sending.task.raised_at
            raise gave_up
        if isinstance(error, InvalidMessage) and may_be_sent(sending.body):
            refused = RuleBroken(
                Rule.BAD_INPUT,
                f"send refused {quote(sending.body)} ({error}), but that message may be sent: "
                f"it is not blank, and its {len(sending.body):,} characters are within the limit",
                function="send",
            )
            refused.blame = sending.task.raised_at
            raise refused
        if error is not None:
            raise error

    def requested(self, phone: RemotePhone, op: Op | None, request: Request) -> None:
        """A phone's flow called ``server.send``: check the call as it arrives."""
        sending = self._sendings.get(id(op))
        if sending is None or op is None:
            return
        previous, sending.request, sending.via = sending.request, request, op.via
        if (
            sending.via == FALLBACK
            and previous is not None
            and previous.client_id == request.client_id
        ):
            return  # the same message again, not a new one (and its echo may have confirmed it)
        try:
            self._check_request(sending, request)
        except RuleBroken as broken:
            broken.blame = broken.blame or op.called_at
            sending.broken = broken

    def _check_request(self, sending: Sending, request: Request) -> None:
        member = self.cast[sending.user]
        if sending.retry_of is not None:
            check_retry_id(sending.body, request.client_id, sending.retry_of)
            row = member.client.state.get(request.client_id)
            if row is not None and row.status is Status.SENT:
                raise RuleBroken(
                    Rule.IDEMPOTENT_RETRY,
                    f"the retry of {quote(sending.body)} sent it again, but it was already "
                    "confirmed: sent is final, so a retry of a confirmed message has nothing "
                    "to send",
                )
        else:
            earlier = self._client_ids.get(request.client_id)
            first = (
                None
                if earlier is None
                else f"{whose(earlier.user)} earlier message {quote(earlier.body)}"
            )
            check_new_id(sending.body, first, client_id=request.client_id, sender=sending.user)
            sample = self._new_ids.setdefault(sending.user, [])
            if len(sample) < ID_SAMPLE:
                sample.append(request.client_id)
                self._check_id_rooms()
        check_pending_on_screen(
            member.client.state, request.client_id, request.chat_id, sending.body, request.body
        )
        member.watch.sent(request.client_id)
        self._client_ids.setdefault(request.client_id, sending)

    # After each step.

    def check(self) -> None:
        """Every rule, on every phone's screen; and what each send that just finished
        handed back."""
        for _, member in self.cast:
            try:
                member.watch.check(retrying=self.retrying, now=member.client.clock())
            except RuleBroken as broken:
                if broken.about:
                    self.blame(broken)
                raise
            except StateShapeError as wrong:
                if wrong.about:
                    self.blame(wrong)
                raise
        self._check_returned()

    def _check_returned(self) -> None:
        """Rule 2 for every send (a retry's too) that finished without raising: it handed
        back the row it shows. Checked once, as it finishes."""
        for key, sending in self._sendings.items():
            task = sending.task
            if key in self._returns_checked or not task.done():
                continue
            self._returns_checked.add(key)
            reached = sending.retry_of is not None or sending.request is not None
            if reached and not task.cancelled() and task.exception() is None:
                self.expect_returned_row(sending)

    def blame(self, broken: Blamed, user: str = "you") -> Blamed:
        """Say where the learner's code made the change that broke the rule, if it can tell.

        The change is the last one the learner's code made to what the rule is about; for
        a rule about a whole timeline, the last change to any row of ``user``'s chat.
        """
        if broken.blame is None:
            chat: Chat = self.state(user).chat(self.chat_id)
            about = broken.about or (chat, *chat.rows)
            fields = broken.fields if broken.about else (*STATUS_FIELDS, *CREATED, "rows")
            for member in (self.cast[user], *(member for _, member in self.cast)):
                broken.blame = member.client.journal.latest(about, fields)
                if broken.blame is not None:
                    break
        return broken

    def expect(
        self,
        expected: list[str],
        *,
        user: str = "you",
        rule: Rule = Rule.EXACTLY_ONCE,
        chat: str | None = None,
    ) -> None:
        """The timeline ``user`` sees in ``chat`` (the scenario's chat unless given) must
        read ``expected``.

        A line like ``"'hi' failed"`` accepts any reason; write the reason in
        brackets to require it.
        """
        actual = describe_timeline(self.state(user), chat or self.chat_id)
        for reason in self._own_time_outs:
            actual = [
                line.replace(f"failed ({reason})", f"failed ({TIMED_OUT})") for line in actual
            ]
        if len(actual) != len(expected) or not all(map(line_matches, expected, actual)):
            raise self.blame(
                RuleBroken(
                    rule, "the timeline is not what it should be", expected=expected, actual=actual
                ),
                user,
            )

    def own_time_out(self, sending: Sending) -> None:
        """``sending`` failed because a time-out of its flow's own ran out when the server
        gave up: whatever readable reason its row gives stands for the server's."""
        row = self.state(sending.user).get(sending.retry_of or sending.client_id)
        if row is not None and row.status is Status.FAILED and row.error and row.error.strip():
            self._own_time_outs.add(row.error)

    def expect_returned_row(self, sending: Sending) -> None:
        """``send`` (or a retry) must hand back the very row it shows for this message:
        not a copy, not ``None``, on success, failure and retry alike."""
        shown = self.state(sending.user).get(sending.retry_of or sending.client_id)
        returned = sending.task.result() if sending.task.done() else None
        if shown is None or returned is not shown:
            raise RuleBroken(
                Rule.IDENTITY,
                f"send should return the row it shows for {quote(sending.body)}: the same "
                "object, not a copy or None, whatever the server answered",
                function="send",
            )

    def expect_flags(self, *, sending: bool, error: str | None, user: str = "you") -> None:
        """The chat's "sending…" indicator and error banner must be as given."""
        chat = self.state(user).chat(self.chat_id)
        shown = TIMED_OUT if chat.error in self._own_time_outs else chat.error
        if (chat.sending, shown) != (sending, error):
            raise self.blame(
                RuleBroken(
                    Rule.LOADING_AND_ERRORS,
                    "the chat's indicator and banner are not what they should be",
                    expected=[f"sending={sending}", f"error={error!r}"],
                    actual=[f"sending={chat.sending}", f"error={chat.error!r}"],
                    about=(chat, *chat.rows),
                    fields=("error", "in_flight", "status"),
                ),
                user,
            )


def snapshot(state: ChatState) -> tuple[list[str], int]:
    """What the screen shows, every chat's rows and flags, as lines; and how many rows the
    index holds. A chat that shows nothing (``state.chat`` makes one, empty, when asked for
    a chat it has not seen) is no change from none."""
    lines = []
    for chat in state.chats.values():
        lines += describe_timeline(state, chat.id)
        if chat.sending:
            lines.append(f"[{chat.id}: sending…]")
        if chat.error is not None:
            lines.append(f"[{chat.id}: banner {chat.error!r}]")
    return lines, len(state.messages)


def may_be_sent(body: str) -> bool:
    """True if the kit's own ``check_body`` accepts ``body``."""
    try:
        check_body(body)
    except InvalidMessage:
        return False
    return True


def line_matches(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    return expected.endswith(" failed") and actual.startswith(expected + " (")
