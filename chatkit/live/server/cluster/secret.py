"""The secret the servers of one chat share, and the seal it puts on what they tell each other.

Servers sharing ``--redis`` tell each other everything through Redis: messages,
typing notices, fault switches. Redis itself proves nothing about who wrote a
packet, so anyone who can reach it could publish a message "from alice" or turn
every server's switches without the admin token. Every packet is therefore
sealed: an HMAC-SHA256 over the channel's name and the packet, keyed by a secret
only the servers hold (``--cluster-secret-file``). A packet whose seal does not
check is dropped (and counted in the log); one sealed for another channel (a
different Redis database) is too.

The secret is read from a file its owner makes once and copies to every host:
``python -m chatkit.live.server.cluster.secret FILE`` writes a fresh one, readable by
its owner only. The secret never appears in a log, an error or a repr.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

SECRET_BYTES = 32
"""A fresh secret's random bytes: 256 bits, as many as SHA-256 gives."""
MIN_SECRET_CHARS = 32
"""The shortest secret a file may hold: a short or guessable one would seal nothing."""
_MAC_HEX = hashlib.sha256().digest_size * 2
MAKE_ONE = "python -m chatkit.live.server.cluster.secret FILE"
"""The command that makes a secret file (what a refusal tells the host to run)."""


class SecretError(ValueError):
    """The cluster secret is missing or unusable; the message says how to make one."""


def how_to_make_one() -> str:
    return (
        f"make one with `{MAKE_ONE}`, copy FILE to every host that runs a server, and "
        "start each server with --cluster-secret-file FILE"
    )


def new_secret_file(path: Path) -> None:
    """Write a fresh secret to ``path``, readable by its owner only; FileExistsError if
    there is a file there already (a secret in use is never overwritten)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secrets.token_urlsafe(SECRET_BYTES) + "\n")


def secret_from_file(path: Path) -> bytes:
    """The secret in ``path``; `SecretError` (saying how to make one) if it is missing,
    unreadable or too short."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SecretError(f"there is no cluster secret file {path}: {how_to_make_one()}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SecretError(f"cannot read the cluster secret file {path} ({error})") from None
    if len(text) < MIN_SECRET_CHARS:
        raise SecretError(
            f"the cluster secret in {path} is shorter than {MIN_SECRET_CHARS} characters: "
            + how_to_make_one()
        )
    return text.encode()


class Seal:
    """Seals packets for one channel with the shared secret, and opens only sealed ones.

    A sealed packet is ``<hex MAC>.<body>``: the body stays readable (it is no secret),
    and the MAC binds it to the channel, so a packet copied from another channel (or
    written by someone without the secret) does not open."""

    __slots__ = ("_channel", "_key")

    def __init__(self, secret: bytes, channel: str) -> None:
        self._key = secret
        self._channel = channel.encode()

    def __repr__(self) -> str:
        return "Seal(<secret>)"

    def seal(self, body: bytes) -> bytes:
        return self._mac(body).encode() + b"." + body

    def open(self, packet: bytes) -> bytes | None:
        """The body of a packet the servers sealed, or None for any other."""
        mac, dot, body = packet.partition(b".")
        if not dot or len(mac) != _MAC_HEX:
            return None
        return body if hmac.compare_digest(mac, self._mac(body).encode()) else None

    def _mac(self, body: bytes) -> str:
        return hmac.new(self._key, self._channel + b"\n" + body, hashlib.sha256).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chatkit.live.server.cluster.secret FILE``: write a fresh secret to FILE."""
    parser = argparse.ArgumentParser(
        prog="python -m chatkit.live.server.cluster.secret",
        description="Write a fresh secret for servers that share --redis (readable by you "
        "only). Copy the file to every host that runs a server.",
    )
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        new_secret_file(args.file)
    except FileExistsError:
        print(f"{args.file} exists already; a secret in use is never overwritten", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"cannot write {args.file}: {error}", file=sys.stderr)
        return 1
    print(
        f"wrote a fresh cluster secret to {args.file}; start every server with "
        f"--cluster-secret-file {args.file}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
