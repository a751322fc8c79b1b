"""The live side's parts on their own, in-process: failover, fault dice, the store, the CLI."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatkit.failover import PRIMARY_TIMED_OUT, Failover, FailoverServer, both_failed
from chatkit.live.cli import add_serve_command, serve_command
from chatkit.live.server.faults import FaultInjector, FaultSettings
from chatkit.live.storage.messages import SQLiteStore, StoreError
from chatkit.model import DeliveryError, ServerMessage

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


class Fake:
    """A ChatServer that answers, refuses, or never answers at all."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sent: list[str] = []
        self.never = asyncio.Event()

    async def send(self, chat_id: str, client_id: str, body: str) -> ServerMessage:
        self.sent.append(client_id)
        if self.mode == "refuse":
            raise DeliveryError(f"{self.mode}d")
        if self.mode == "hang":
            await self.never.wait()
        return ServerMessage(1, chat_id, 1, client_id, "you", body, WHEN)

    async def history(self, chat_id: str) -> list[ServerMessage]:
        if self.mode == "refuse":
            raise DeliveryError("refused")
        return [ServerMessage(1, chat_id, 1, "c1", "you", "hi", WHEN)]


async def test_failover_falls_back_on_timeout_with_the_same_client_id() -> None:
    primary, fallback = Fake("hang"), Fake("ok")
    seen: list[Failover] = []
    server = FailoverServer(primary, fallback, timeout=0.05, on_failover=seen.append)
    stored = await server.send("general", "c1", "hi")
    assert stored.client_id == "c1"
    assert primary.sent == fallback.sent == ["c1"]
    assert seen == [Failover("send", "general", "c1", PRIMARY_TIMED_OUT)]


async def test_failover_reports_both_reasons_and_covers_history() -> None:
    server = FailoverServer(Fake("refuse"), Fake("refuse"))
    with pytest.raises(DeliveryError) as failed:
        await server.send("general", "c1", "hi")
    assert failed.value.reason == both_failed("refused", "refused")
    history = await FailoverServer(Fake("refuse"), Fake("ok")).history("general")
    assert [m.body for m in history] == ["hi"]


async def test_failover_leaves_a_working_primary_alone() -> None:
    primary, fallback = Fake("ok"), Fake("ok")
    await FailoverServer(primary, fallback).send("general", "c1", "hi")
    assert (primary.sent, fallback.sent) == (["c1"], [])


def test_seeded_dice_replay_and_bad_switches_change_nothing() -> None:
    def roll(injector: FaultInjector) -> list[tuple[bool, bool]]:
        return [(d.refuse, d.lose_ack) for d in (injector.decide("socketio") for _ in range(50))]

    settings = FaultSettings(refuse=0.3, lose_acks=0.3, seed=11)
    first = roll(FaultInjector(settings))
    assert first == roll(FaultInjector(settings))
    assert any(r for r, _ in first) and any(lost for _, lost in first)
    assert not FaultInjector(FaultSettings(refuse=1.0)).decide("http").refuse  # spared
    assert FaultInjector(FaultSettings(refuse=1.0, on_http=True)).decide("http").refuse
    injector = FaultInjector(settings)
    for bad in (
        {"refuse": 1.5},
        {"lose_acks": "half"},
        {"latency_ms": -1},
        {"echo_first": 1},
        {"volume": 11},
        {"seed": 2.5},
    ):
        with pytest.raises(ValueError):
            injector.update(bad)
    assert injector.settings == settings


async def test_store_is_idempotent_ordered_paged_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    try:
        results = await asyncio.gather(
            *(store.append("general", f"c{n}", "you", f"m{n}") for n in range(20)),
            store.append("general", "c3", "you", "m3 again"),
            store.append("other", "c3", "you", "same id, other chat"),
        )
        general = [r.message for r in results[:20]]
        assert sorted(m.seq for m in general) == list(range(1, 21))
        again, other = results[20], results[21]
        assert not again.created and again.message == general[3]
        assert other.created and other.message.seq == 1
        newest = await store.page("general", limit=5)
        assert [m.seq for m in newest.messages] == [16, 17, 18, 19, 20] and newest.has_more
        older = await store.page("general", before=16, limit=5)
        assert [m.seq for m in older.messages] == [11, 12, 13, 14, 15]
        forward = await store.page("general", after=18, limit=5)
        assert [m.seq for m in forward.messages] == [19, 20] and not forward.has_more
    finally:
        await store.close()

    reopened = SQLiteStore(path)
    await reopened.open()
    try:
        everything = await reopened.page("general", after=0, limit=100)
        assert [m.seq for m in everything.messages] == list(range(1, 21))
        assert not (await reopened.append("general", "c0", "you", "m0")).created
    finally:
        await reopened.close()


async def test_closing_the_store_answers_every_append_queued_before_it(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = SQLiteStore(path, batch_max=8)
    await store.open()
    # gather starts each in turn: every append is queued before close begins
    closing = store.close()
    appended = await asyncio.gather(
        *(store.append("general", f"c{n}", "you", f"m{n}") for n in range(50)), closing
    )
    assert [a.message.seq for a in appended[:-1] if a is not None] == list(range(1, 51))
    with pytest.raises(StoreError, match="not open"):
        await store.append("general", "late", "you", "after closing")

    reopened = SQLiteStore(path)
    await reopened.open()
    try:
        stored = await reopened.page("general", after=0, limit=100)
        assert [m.client_id for m in stored.messages] == [f"c{n}" for n in range(50)]
    finally:
        await reopened.close()


async def test_a_message_the_database_refuses_fails_alone_in_its_batch(tmp_path: Path) -> None:
    # The server checks bodies before they reach the store; here one that SQLite cannot
    # encode (a lone surrogate) reaches it anyway, in the same commit batch as others.
    store = SQLiteStore(tmp_path / "store.sqlite3")
    await store.open()
    try:
        results = await asyncio.gather(
            *(store.append("general", f"c{n}", "you", f"m{n}") for n in range(5)),
            store.append("general", "bad", "you", "lone \ud800 surrogate"),
            *(store.append("general", f"c{n}", "you", f"m{n}") for n in range(5, 10)),
            return_exceptions=True,
        )
        refused = results.pop(5)
        assert isinstance(refused, StoreError)
        assert [r.message.seq for r in results if not isinstance(r, BaseException)] == list(
            range(1, 11)
        )
        stored = await store.page("general", after=0, limit=100)
        assert [m.client_id for m in stored.messages] == [f"c{n}" for n in range(10)]
    finally:
        await store.close()


def test_serve_subcommand_registers_and_refuses_bad_switches() -> None:
    parser = argparse.ArgumentParser(prog="chatkit")
    add_serve_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "serve",
            "--port",
            "5001",
            "--lose-acks",
            "0.2",
            "--refuse",
            "0.1",
            "--echo-first",
            "--seed",
            "3",
            "--latency-ms",
            "50",
        ]
    )
    assert args.func is serve_command
    assert (args.lose_acks, args.refuse, args.echo_first, args.seed) == (0.2, 0.1, True, 3)
    bad = parser.parse_args(["serve", "--lose-acks", "2"])
    assert serve_command(bad) == 2  # refused before any server starts
