"""The ways a request can be turned down, each with a code, an HTTP status and a reason.

Socket.IO answers them as ``{"ok": false, "code": ..., "error": reason}`` acks and
HTTP as the same object with the status below, so a client sees one vocabulary
whichever transport it used. ``reason`` is written for a person: the client
transports put it in `chatkit.DeliveryError`, and the learner's rollback shows it.
"""

from __future__ import annotations


class ChatError(Exception):
    """A request the server will not carry out. The connection stays open."""

    code = "error"
    status = 500

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def to_json(self) -> dict[str, object]:
        return {"ok": False, "code": self.code, "error": self.reason}


class BadRequest(ChatError):
    """The payload is malformed or breaks a limit."""

    code, status = "bad_request", 400


class NotRegistered(ChatError):
    """The connection (or HTTP token) has not said who it is."""

    code, status = "not_registered", 401


class NotMember(ChatError):
    """The chat was not joined by this session, so it may neither read nor post there."""

    code, status = "not_member", 403


class NotHost(ChatError):
    """Only the host (with the admin token) may do this."""

    code, status = "not_host", 403


class NotFound(ChatError):
    """Nothing there (an invite code that opens no chat)."""

    code, status = "not_found", 404


class Conflict(ChatError):
    """The client id is already taken in this chat by another user's message."""

    code, status = "conflict", 409


class WrongHost(ChatError):
    """The request named a host this server does not answer to (see `chatkit.live.server.hosts`)."""

    code, status = "wrong_host", 421


class TooLarge(ChatError):
    """An event or request body over the size limit (`ServerSettings.max_payload_bytes`)."""

    code, status = "too_large", 413


class RateLimited(ChatError):
    """Too many requests from one session in too short a time."""

    code, status = "rate_limited", 429


class TooSlow(ChatError):
    """The request did not arrive in time (a body trickled in, byte by byte)."""

    code, status = "timeout", 408


class UnknownEvent(ChatError):
    """A Socket.IO event the server does not have."""

    code, status = "unknown_event", 404


class Refused(ChatError):
    """The server turned the send down on purpose (an injected fault)."""

    code, status = "refused", 503


class Unavailable(ChatError):
    """The server cannot serve this now (storage failing, too many sessions)."""

    code, status = "unavailable", 503


class AckLost(ChatError):
    """Over HTTP, an injected lost ack: the message is stored, the answer says nothing useful."""

    code, status = "ack_lost", 504


INTERNAL_ERROR: dict[str, object] = {
    "ok": False,
    "code": "internal",
    "error": "the server hit an unexpected error",
}
"""The answer to a request that failed in a way nobody planned for (the log has the trace)."""
