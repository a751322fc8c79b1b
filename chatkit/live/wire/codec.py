"""How python-socketio writes and reads every packet, on the server and the client.

Every event is decoded once, and every ack and echo encoded once, so this is on the
hot path of every message. python-socketio takes any module with ``dumps`` and
``loads`` (``json=``): with the standard library's, it builds an encoder for every
packet (it asks for compact separators) and Engine.IO calls back into Python for
every integer read; this module hands the work to orjson instead. Where orjson would
answer differently from the standard library, the standard library answers, so a
frame means the same as before:

- decoding: text orjson refuses (``NaN``, escaped lone surrogates, broken JSON) is read
  by the standard library, with Engine.IO's own limit on long integers, and fails, or
  not, with the same error. Text that may be nested deeper than `DEEP`, or that holds a
  run of 19 digits (a number orjson would read as a float beyond 64 bits), never goes to
  orjson: "nested too deeply" is still the standard library's ``RecursionError`` at the
  depth it always was, and a long integer is an exact ``int``, or refused;
- encoding: what orjson cannot write (lone surrogates, integers beyond 64 bits, keys
  that are not text) is written by the standard library. orjson writes non-ASCII text as
  UTF-8 rather than ``\\u`` escapes: the same JSON, shorter.

`TextPacket` is the packet class to go with it (``serializer=``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from socketio import packet  # type: ignore[import-untyped]

DEEP = 64
"""Text with more opening brackets than this is decoded by the standard library, whose
recursion limit decides what is too deep (orjson's own limit is deeper)."""
LONG_DIGITS = re.compile(r"\d{19}")
"""A number this long may not fit in 64 bits (in a string it is harmless, only slower)."""
LONGEST_INTEGER = 100
"""Digits an integer may have: Engine.IO's own bound (``engineio.json``), kept."""


def dumps(value: Any, **_options: Any) -> str:
    """Compact JSON text (python-socketio passes compact ``separators``: the only kind written)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, separators=(",", ":"))


def loads(text: str, **_options: Any) -> Any:
    """The value of JSON ``text``; ValueError (or RecursionError) as the standard library raises."""
    if _plain(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, and says why
    return json.loads(text, parse_int=_bounded_int)


def _plain(text: str) -> bool:
    """Whether orjson reads ``text`` exactly as the standard library would."""
    return text.count("[") + text.count("{") <= DEEP and LONG_DIGITS.search(text) is None


def _bounded_int(digits: str) -> int:
    if len(digits) > LONGEST_INTEGER:
        raise ValueError("Integer is too large")
    return int(digits)


class TextPacket(packet.Packet):  # type: ignore[misc]
    """A Socket.IO packet that is never searched for binary data to send.

    python-socketio walks the data of every packet it makes, item by item, for bytes
    to send as binary attachments. Neither the server nor the client transports ever
    send bytes, so the walk is skipped, with python-socketio's own switch for packets
    without attachments (``uses_binary_events``). A peer's binary event is still read
    as one (and refused, by the server).
    """

    uses_binary_events = False
