"""The wire between the judge and a phone: one JSON value per frame, length first.

A frame is four bytes of length (big-endian) and that many bytes of UTF-8 JSON. The
judge reads what a phone says as untrusted: a frame over `MAX_FRAME`, a broken length,
bytes that are not JSON, or a silence past the deadline each end the conversation
with a `WireError`, never a crash of the judge. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

MAX_FRAME = 64 * 2**20
"""The largest frame either side accepts: a screen of 100,000 rows fits easily."""

_LENGTH = 4


class WireError(Exception):
    """The other side said something that is not a frame, or said nothing in time."""


class PhoneSilent(WireError):
    """No whole frame arrived before the deadline."""


class PhoneGone(WireError):
    """The other side closed the line (it ended, or was stopped)."""


def write_frame(channel: socket.socket, value: object) -> None:
    """Send one value (plain JSON data) as a frame."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate (``chr(0xD800)``): sent as U+FFFD, as shown
        data = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()
    if len(data) > MAX_FRAME:
        raise WireError(f"a frame of {len(data):,} bytes is over the limit")
    channel.sendall(len(data).to_bytes(_LENGTH, "big") + data)


def read_frame(channel: socket.socket, deadline: float | None = None) -> Any:
    """Receive one frame's value; ``deadline`` is a `time.monotonic` moment, or None."""
    size = int.from_bytes(_read_exactly(channel, _LENGTH, deadline), "big")
    if size > MAX_FRAME:
        raise WireError(f"a frame of {size:,} bytes is over the limit")
    data = _read_exactly(channel, size, deadline)
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise WireError(f"a frame that is not JSON: {error}") from None


def _read_exactly(channel: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise PhoneSilent("no answer in time")
            channel.settimeout(wait)
        try:
            chunk = channel.recv(min(left, 1 << 20))
        except TimeoutError:
            raise PhoneSilent("no answer in time") from None
        except OSError as error:
            raise PhoneGone(str(error)) from None
        if not chunk:
            raise PhoneGone("the line was closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
