"""The ledger that makes a message reach a server's connections once, however many roads
bring it (`chatkit.live.server.cluster.delivered`)."""

from __future__ import annotations

from chatkit.live.server.cluster.delivered import ChatLedger


def test_each_seq_is_taken_once_whatever_the_order() -> None:
    ledger = ChatLedger(floor=0)
    assert [ledger.take(seq) for seq in (2, 1, 2, 3, 1, 3)] == [
        True,
        True,
        False,
        True,
        False,
        False,
    ]
    assert (ledger.floor, ledger.above) == (3, set())


def test_a_hole_below_the_highest_seq_is_missing_until_it_comes() -> None:
    ledger = ChatLedger(floor=4)
    assert not ledger.missing()
    ledger.take(7)
    assert ledger.missing(), "5 and 6 have not come"
    ledger.take(5)
    assert ledger.missing() and ledger.floor == 5
    ledger.take(6)
    assert not ledger.missing() and ledger.floor == 7


def test_a_head_beyond_what_came_is_behind() -> None:
    ledger = ChatLedger(floor=3)
    ledger.take(5)
    assert ledger.behind(4) and ledger.behind(6)
    assert not ledger.behind(3) and not ledger.behind(5)


def test_what_came_before_the_head_was_read_is_kept_and_history_is_not_taken() -> None:
    ledger = ChatLedger()
    assert ledger.take(10), "before the head is known, every seq is delivered"
    assert not ledger.missing() and not ledger.behind(11)
    ledger.start_at(9)
    assert (ledger.floor, ledger.above) == (10, set())
    assert not ledger.take(8), "history, which the member read with the history"
    assert not ledger.take(10)
    ledger.start_at(4)
    assert ledger.floor == 10, "a head read earlier never lowers the floor"
