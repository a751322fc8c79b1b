"""Names: the ``Host`` a client may use, and the chat names a public chat may take."""

from __future__ import annotations

import pytest

from chatkit.live.server.errors import BadRequest
from chatkit.live.server.hosts import HostAllowlist
from chatkit.live.server.payloads import check_chat_id
from chatkit.live.server.settings import ServerSettings


def test_loopback_the_listen_host_and_the_given_names_are_the_only_hosts() -> None:
    local = HostAllowlist("127.0.0.1", ["chat.school.example"])
    for host in ("localhost", "localhost:5001", "127.0.0.1:5001", "127.9.9.9", "[::1]:5001"):
        assert local.allows(host), host
    assert local.allows("Chat.School.Example.:443")
    for host in ("evil.example", "10.0.0.5:5001", "127.0.0.1.evil.example", "[::2]", ""):
        assert not local.allows(host), host
    everywhere = HostAllowlist("0.0.0.0")
    assert everywhere.allows("10.0.0.5:5001") and everywhere.allows("[fe80::1]:5001")
    assert not everywhere.allows("evil.example"), "a name can be rebound to any address"


def test_public_chat_names_are_visible_and_never_look_like_private_ids() -> None:
    settings = ServerSettings()
    for name in ("general", "cs-101", "room_2.b", "private-Ab_9-x", "9lives"):
        assert check_chat_id(name, settings) == name
    for name in (
        "General",
        "Private-abc",
        "private\u2010abc",
        "privateabc",
        "private_abc",
        "general\u200b",
        "g\u00e9n\u00e9ral",
        "-general",
        ".hidden",
        "x" * 65,
    ):
        with pytest.raises(BadRequest):
            check_chat_id(name, settings)
