"""One user in one chat: the state, the live transport, the learner's flow, and the glue.

A screen needs more than the flow gives it: who else is typing, whether the
connection is up, and what went wrong in the learner's code. `ChatSession`
keeps all of that apart from the widgets, so each pane stays a drawing of it.

Every user action and every server event goes through `chatkit.client.ChatClient`,
so the screen shows exactly what the target's ``send``, ``reconcile`` and
``rollback`` made of it. Nothing here raises: a failure becomes a `Notice`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from chatkit.client import ChatClient
from chatkit.live.client.transports import RequestFailed, SocketIOTransport
from chatkit.model import DeliveryError, ServerMessage
from chatkit.protocols import Flow
from chatkit.state import Chat, ChatState
from chatkit.tui.notices import Notice, explain
from chatkit.tui.patience import listening
from chatkit.tui.rows import RETRY_HOW

ACK_TIMEOUT_S = 3.0
"""How long a send waits for its ack. Shorter than the slowest latency switch, so the
learner can watch a send time out and then be proved delivered by its late echo."""
IN_FLIGHT = 8
"""At most this many sends wait for their acks at once; the rest of a burst waits its
turn with its clock mark (still pending), in order. Sent all at once, the 200th
message of a burst waited behind 199 others for its ack, and timed out with the
server busy storing the first ones: a false ✗ for a message about to be stored."""
WALL_CLOCK_BOUND = 10
"""The transport's own wall-clock limit on an ack, as a multiple of `ACK_TIMEOUT_S`: only a
bound. The wait that fails a send is counted in the client's own listening time
(`chatkit.tui.patience`), so a busy screen does not turn a stored message red."""
TYPING_TTL_S = 6.0
"""How long someone shows as typing without a fresh typing event (if their "stopped" is lost)."""
TYPING_REPEAT_S = 2.5
"""How often, at most, this client tells the others it is still typing."""
PAGE_SIZE = 50
"""How many messages a chat opens with, and how many more each step back loads."""
RETRY_FIRST_S = 1.0
"""How long to wait before trying again when the server cannot be reached at all."""
RETRY_MAX_S = 8.0
"""The longest wait between tries: the wait doubles up to this, so a server started
late is found within seconds, and a server that stays away is not hammered."""

SIGN_IN_KEY = "ctrl+l"
"""The key that asks for the password again, in ``chatkit chat``."""
SIGN_IN_HOW = f"not signed in: {SIGN_IN_KEY} to type the password, then ctrl+r"
ONLY_THE_HOST = (
    "the F-keys need the host's admin token: start chatkit chat with "
    "--admin-token-file FILE, or set $CHATKIT_ADMIN_TOKEN"
)

Listener = Callable[[], None]


class Observed:
    """The server as the flow sees it, telling the screen when the flow hands over control.

    A correct ``send`` shows its message as pending *before* it awaits the server
    (rule 1), so the moment it calls ``server.send`` is the moment to draw the
    clock mark. The history it gives is the part of the chat the screen holds,
    from the oldest message loaded (however far the user scrolled back) onwards:
    a resync after a reconnect reloads that, not the whole chat.
    """

    def __init__(
        self,
        server: SocketIOTransport,
        touched: Callable[[str], None],
        oldest: Callable[[], int | None],
        ack_timeout: float,
    ) -> None:
        self.server = server
        self.touched = touched
        self.oldest = oldest
        self.ack_timeout = ack_timeout
        self.turns = asyncio.Semaphore(IN_FLIGHT)
        """Sends on the wire at once; the others wait their turn, in the order sent."""

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        self.touched(client_id)
        try:
            async with self.turns:  # the clock starts when the request goes out
                return await listening(self.server.send(chat_id, client_id, body), self.ack_timeout)
        finally:
            self.touched(client_id)  # the flow's reconcile or rollback of it comes next

    async def history(self, chat_id: str) -> list[ServerMessage]:
        oldest = self.oldest()
        return await self.server.history(chat_id, after=0 if oldest is None else oldest - 1)


class ChatSession:
    """What one pane shows: a user's client in one chat, connected to the live server."""

    def __init__(
        self,
        flow: Flow,
        flow_path: Path,
        url: str,
        user: str,
        chat_id: str,
        *,
        ack_timeout: float = ACK_TIMEOUT_S,
        retry_first: float = RETRY_FIRST_S,
        retry_max: float = RETRY_MAX_S,
        page_size: int = PAGE_SIZE,
        password: str | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.flow_path = flow_path
        self.url = url
        self.user = user
        self.chat_id = chat_id
        self.state = ChatState(user)
        self.ack_timeout = ack_timeout
        self.admin_token = admin_token
        self.transport = self._new_transport(password)
        self.client = ChatClient(flow, self.state, self._observed())
        self.listeners: list[Listener] = []
        """Called after anything that may change what the pane shows."""
        self.notice: Notice | None = None
        self.tries = 0
        """How many times this session has tried to reach the server so far."""
        self.retry_at: float | None = None
        """When the next try starts (monotonic), while the server cannot be reached."""
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.faults: dict[str, object] = {}
        """The server's fault switches as last heard (empty until connected)."""
        self.page_size = page_size
        self.oldest: int | None = None
        """The seq of the oldest message loaded from the server: where the next page back
        ends. Kept here, not read from the rows: the learner's code may have lost some."""
        self.older_left = False
        """Whether the server holds messages older than ``oldest``."""
        self.loading_older = False
        self._connection_notice: Notice | None = None
        """The notice about reaching or signing in to the server: only a connection clears it."""
        self._retrying: set[str] = set()
        self._touched: set[str] | None = None
        """Client ids of the messages that may have changed since the pane last looked
        (None: any of them, so the pane compares them all)."""
        self._typing: dict[str, float] = {}
        self._told_typing_at: float | None = None
        self._closed = False
        self.signed_out = False
        """The server turned the sign-in down (wrong name or password): no more tries
        until the user types the password again (`sign_in`)."""
        self.refusal = ""
        """Why the server turned the last sign-in down."""

    # What the pane reads.

    @property
    def chat(self) -> Chat:
        return self.state.chat(self.chat_id)

    @property
    def connected(self) -> bool:
        return self.transport.connected

    def link(self) -> str:
        """The connection as one short phrase, for the line at the top of the pane."""
        if self._closed:
            return "offline"
        if self.signed_out:
            return "not signed in"
        if self.connected:
            return "connected"
        if self.transport.token is not None:
            return "connection lost — reconnecting…"
        if self.retry_at is not None:
            wait = max(0, round(self.retry_at - time.monotonic()))
            return f"offline — trying again in {wait} s (tried {self.tries}×)"
        return "connecting…"

    def typing_users(self) -> list[str]:
        """Who else is typing in this chat right now, in name order."""
        now = time.monotonic()
        for user in [user for user, until in self._typing.items() if until <= now]:
            del self._typing[user]
        return sorted(self._typing)

    def retry_how(self) -> str:
        """What the reason under a failed message says to do next."""
        return SIGN_IN_HOW if self.signed_out else RETRY_HOW

    def claim_failed(self) -> str | None:
        """The oldest failed message of this user's not already asked to be retried, now
        claimed for a retry (ctrl+r pressed twice fast retries two messages, oldest first)."""
        for row in self.client.failed(self.chat_id):
            if row.author == self.user and self.claim(row.client_id):
                return row.client_id
        return None

    def claim(self, client_id: str) -> bool:
        """Mark a failed message as about to be retried; False if it already is."""
        if client_id in self._retrying:
            return False
        self._retrying.add(client_id)
        return True

    # What the user does.

    async def connect(self) -> None:
        """Connect, join the chat, load its history through the flow, read the switches.

        A server that is not up yet is tried again and again, waiting longer each
        time (up to `RETRY_MAX_S`), and the pane says so: start the client first and
        the server second, and it still finds it.
        """
        delay = self.retry_first
        while not await self._reach():
            if self.signed_out:
                return  # a wrong password stays wrong: trying again would not help
            self.retry_at = time.monotonic() + delay
            self.changed()
            await asyncio.sleep(delay)
            self.retry_at = None
            delay = min(delay * 2, self.retry_max)
            if self._closed:
                return
        if self.notice is not None and self.notice is self._connection_notice:
            self.tell(None)
        try:
            await self.transport.join(self.chat_id)
        except DeliveryError as error:
            self.tell(Notice(f"Could not join #{self.chat_id}: {error.reason}"))
            return
        await self.read_faults()
        await self._calling("reconcile", self._page_back())

    async def sign_in(self, password: str) -> None:
        """Try again with another password, after the server turned the last one down.

        On a new connection: the old one's reconnection machinery would sign in a second
        time beside this one, and the chat would be joined on the session it replaced.
        """
        await self.transport.close()
        self.transport = self._new_transport(password)
        self.client.server = self._observed()
        self.signed_out = False
        self.tries = 0
        if self.notice is not None and self.notice is self._connection_notice:
            self.tell(None)
        await self.connect()

    async def send(self, body: str) -> bool:
        """The user pressed enter. False if the flow raised (the notice says why)."""
        return await self._calling("send", self.client.send(self.chat_id, body), clears=True)

    async def retry(self, client_id: str) -> bool:
        """Resend a failed message through the flow, with its client id (claimed first)."""
        try:
            return await self._calling("send", self.client.retry(client_id), clears=True)
        finally:
            self._retrying.discard(client_id)

    async def load_older(self) -> None:
        """Scroll-back: the page of messages before the oldest one loaded, through reconcile."""
        if self.older_left and not self.loading_older:
            await self._calling("reconcile", self._page_back())

    def typed(self, has_text: bool) -> Awaitable[None] | None:
        """The input changed: what tells the others we are typing or have stopped, or None
        when there is nothing to tell (throttled: most keystrokes cost nothing)."""
        now = time.monotonic()
        if has_text:
            if self._told_typing_at is not None and now - self._told_typing_at < TYPING_REPEAT_S:
                return None
            self._told_typing_at = now
        elif self._told_typing_at is None:
            return None
        else:
            self._told_typing_at = None
        return self._tell_typing(has_text) if self.connected else None

    async def _tell_typing(self, has_text: bool) -> None:
        with contextlib.suppress(DeliveryError):  # a lost typing hint is harmless
            await self.transport.typing(self.chat_id, has_text)

    async def read_faults(self) -> None:
        """The server's fault switches, for the panel: as the server told everyone at
        sign-in (turning them is the host's, reading what they are is everyone's)."""
        self.faults = dict(self.transport.faults)
        self.changed()

    async def set_faults(self, **changes: object) -> bool:
        """Change some of the server's fault switches (the host's admin token needed)."""
        try:
            self.faults = await self.transport.set_faults(**changes)
        except DeliveryError as error:
            text = f"Could not change the fault switches: {error.reason}"
            if self.transport.admin_token is None:
                text += f" — {ONLY_THE_HOST}"
            self.tell(Notice(text, "warning"))
            return False
        self.changed()
        return True

    async def close(self) -> None:
        """Disconnect for good; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.listeners.clear()
        await self.transport.close()

    # What the server does.

    def receive(self, incoming: ServerMessage) -> None:
        """A realtime message arrived: hand it to the flow's reconcile."""
        if incoming.chat_id != self.chat_id:
            return
        self._typing.pop(incoming.author, None)  # they pressed enter
        try:
            self.client.receive(incoming)
        except (Exception, SystemExit) as error:
            self.tell(explain(error, "reconcile", self.flow_path))
            self.touch_all()  # it may have left any row half changed
            return
        self.touch(incoming.client_id)

    # Plumbing.

    def _new_transport(self, password: str | None) -> SocketIOTransport:
        transport = SocketIOTransport(
            self.url,
            self.user,
            password=password,
            ack_timeout=self.ack_timeout * WALL_CLOCK_BOUND,
            admin_token=self.admin_token,
        )
        transport.on("message", self.receive)
        transport.on("typing", self._on_typing)
        transport.on("reconnect", self._on_reconnect)
        transport.on("disconnect", self.changed)
        transport.on("faults", self._on_faults)
        return transport

    def _observed(self) -> Observed:
        """The transport as the flow sees it (`Observed`)."""
        return Observed(self.transport, self.touch, lambda: self.oldest, self.ack_timeout)

    def tell(self, notice: Notice | None) -> None:
        """Show ``notice`` above the timeline (None clears it)."""
        self.notice = notice
        self.changed()

    def changed(self) -> None:
        for listener in list(self.listeners):
            listener()

    def touch(self, client_id: str) -> None:
        """The message with this client id may have changed (or appeared): tell the pane."""
        if self._touched is not None:
            self._touched.add(client_id)
        self.changed()

    def touch_all(self) -> None:
        """Any message may have changed (a page loaded, a chat reloaded): tell the pane."""
        self._touched = None
        self.changed()

    def take_touched(self) -> set[str] | None:
        """The client ids touched since the last call, or None for "look at them all"."""
        touched, self._touched = self._touched, set()
        return touched

    async def _page_back(self) -> None:
        """Load one page of history, older than anything loaded yet (at first: the newest)."""
        self.loading_older = True
        self.changed()
        try:
            page, more = await self.transport.older(
                self.chat_id, before=self.oldest, limit=self.page_size
            )
        except DeliveryError as error:
            self.tell(Notice(f"Could not load older messages: {error.reason}", "warning"))
            return
        finally:
            self.loading_older = False
        if page:
            self.oldest = page[0].seq
        self.older_left = more and bool(page)
        try:
            for incoming in page:
                self.client.receive(incoming)
        finally:
            self.touch_all()

    async def _reach(self) -> bool:
        """One try at connecting and signing in; False (and a notice) if it failed."""
        self.tries += 1
        self.changed()
        try:
            await self.transport.connect()
        except DeliveryError as error:
            if isinstance(error, RequestFailed) and error.code == "not_registered":
                self.signed_out = True
                self.refusal = error.reason
                self._connection_notice = Notice(
                    f"Could not sign in as {self.user}: {error.reason}. Type the password "
                    f"again ({SIGN_IN_KEY}); a teacher makes accounts with: "
                    "chatkit accounts add NAME",
                    "warning",
                )
            else:
                self._connection_notice = Notice(
                    f"Could not reach the chat server at {self.url}. Start one with: "
                    "chatkit serve (or python -m chatkit.live); this client keeps trying "
                    "by itself.",
                    "warning",
                )
            self.tell(self._connection_notice)
            return False
        return True

    async def _calling(self, doing: str, work: Awaitable[object], *, clears: bool = False) -> bool:
        """Await a call into the flow; turn anything it raises into a notice.

        ``clears``: a user action that worked takes the last notice away, since the
        learner has presumably fixed what it was about.
        """
        try:
            await work
        except (Exception, SystemExit) as error:  # the learner's code may even call sys.exit
            self.tell(explain(error, doing, self.flow_path))
            self.touch_all()  # it may have left any row half changed
            return False
        else:
            if clears and self.notice is not self._connection_notice:
                self.notice = None
            return True
        finally:
            self.changed()

    def _on_typing(self, chat_id: str, user: str, typing: bool) -> None:
        if chat_id != self.chat_id or user == self.user:
            return
        if typing:
            self._typing[user] = time.monotonic() + TYPING_TTL_S
        else:
            self._typing.pop(user, None)
        self.changed()

    def _on_faults(self, faults: dict[str, object]) -> None:
        """Someone (maybe another client) changed the server's fault switches."""
        self.faults = faults
        self.changed()

    async def _on_reconnect(self) -> None:
        """Back after a drop: reload the chat, keeping what is unconfirmed (rule 12).

        The switches are read again too: a change made while this client was away
        was announced to the others only.
        """
        await self.read_faults()
        try:
            await self._calling("reconcile", self.client.resync(self.chat_id))
        finally:
            self.touch_all()
