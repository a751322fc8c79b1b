"""What a server listening beyond loopback exposes, said before it starts.

``chatkit serve`` listens on 127.0.0.1 unless told otherwise, so only this
machine can reach it. ``--host 0.0.0.0`` (or any other address) lets every
machine that can reach this one in, and the host should hear exactly what that
means before the first learner connects.
"""

from __future__ import annotations

import ipaddress

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_warning(host: str, port: int, *, tls: bool) -> str | None:
    """The warning for listening on ``host``, or None for loopback."""
    if is_loopback(host):
        return None
    where = "every network this machine is on" if host in ("0.0.0.0", "::") else host
    lines = [
        f"warning: listening on {host}:{port} — anyone who can reach this machine on "
        f"{where} can use this server:",
        "  - sign in to accounts (make them with: chatkit accounts import class.csv),",
        "  - read and post in public chats once signed in, and see who is online,",
        "  - see the fault switches (turning them needs the admin token).",
    ]
    if tls:
        lines.append("  Traffic is encrypted (TLS).")
    else:
        lines.append(
            "  Passwords, tokens and messages travel unencrypted: on a network you do not "
            "trust, give --tls-cert and --tls-key."
        )
    wildcard = host in ("0.0.0.0", "::")
    names = "this machine's own name or --allowed-host" if wildcard else "--allowed-host"
    lines.append(f"  Clients reach it by its address, or by a name given with {names}.")
    lines.append("  For a classroom network, not the open internet.")
    return "\n".join(lines)
