"""Chat Message Flow: the runtime the exercise stands on.

Learners import what they need from here::

    from chatkit import ChatServer, ChatState, DeliveryError, Message, ServerMessage, Status, check_body
"""

from chatkit.model import (
    MAX_BODY_CHARS,
    DeliveryError,
    InvalidMessage,
    Message,
    ServerMessage,
    Status,
    check_body,
)
from chatkit.protocols import ChatServer, Flow
from chatkit.state import Chat, ChatState

__all__ = [
    "MAX_BODY_CHARS",
    "Chat",
    "ChatServer",
    "ChatState",
    "DeliveryError",
    "Flow",
    "InvalidMessage",
    "Message",
    "ServerMessage",
    "Status",
    "check_body",
]
