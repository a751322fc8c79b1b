"""The fuzz set (`chatkit.live.tools.fuzz`): over a thousand hostile cases, every one answered."""

from __future__ import annotations

import pytest
from conftest import ServerFactory

from chatkit.live.tools import fuzz

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def test_every_event_and_endpoint_survives_the_fuzz_set(start_server: ServerFactory) -> None:
    server = start_server("--rate", "0")  # every case reaches its handler, none a 429
    report = await fuzz.run(server)
    print("\n" + report.summary())
    assert report.total >= 500
    assert report.cases["socket.io event"] >= 500 and report.cases["http request"] >= 500
    assert {event for event in fuzz.EVENTS} <= {
        label.split(".")[0].split(" ")[0] for label, _ in fuzz.socketio_cases()
    }
    kinds = ("answered frame", "look-alike chat", "host header", "admin token near miss")
    for kind in (*kinds, "polling body", "JSONP poll", "connect auth"):
        assert report.cases[kind] > 0, f"no {kind} case ran"
    assert not report.failures, "\n".join(report.failures[:20])
    assert "Traceback" not in server.log.read_text()
