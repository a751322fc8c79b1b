"""The grader's portable paths, exercised on this machine.

Windows has no SIGUSR1, no ``pthread_kill``, no SIGALRM, no ``resource`` limits, and
a process it kills ends with status 1 rather than a negative signal number. Each test
here takes away what Windows lacks (or gives the Windows answer) and checks that a
result still streams, a hang is still stopped and named, and a killed child is still
recorded — so the paths the grader takes there are run on every platform.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from mistakes import broken_source

from chatkit import portable
from chatkit.grading import runner
from chatkit.grading.results import Outcome, Planned
from chatkit.grading.runner import _Queue, _ResultsChannel, _Run, grade, join_results_channel
from chatkit.phone.hang_watch import HangWatch, StuckInLearnerCode

LOOPS = "def send():\n    while True:\n        pass\n"
NOT_ON_WINDOWS = ("SIGUSR1", "pthread_kill", "SIGALRM", "setitimer")
"""What the grader could use of the signal module on POSIX, and Windows's does not have."""


def windows_signals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take from this process's signal module what Windows's does not have (but SIGALRM,
    which pytest-timeout needs here to stop a test of these that hangs)."""
    for name in ("SIGUSR1", "pthread_kill"):
        monkeypatch.delattr(signal, name)


@pytest.fixture
def windows_children(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """While it lasts, the grader and every child it starts lack what Windows lacks.

    The children get it from a ``sitecustomize`` on their path, run before anything else.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        f"import signal\n\nfor name in {NOT_ON_WINDOWS!r}:\n    delattr(signal, name)\n"
    )
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    with monkeypatch.context() as windows:  # given back before pytest-timeout needs it again
        windows.setenv("PYTHONPATH", path)
        for name in NOT_ON_WINDOWS:
            windows.delattr(signal, name)
        yield


def teacher_scenarios(folder: Path, hang: str) -> list[Path]:
    """A scenario that passes, one that hangs with ``hang``, and one that passes."""
    folder.mkdir()
    (folder / "test_hangs.py").write_text(
        "import time\n\nimport pytest\n\n"
        'pytestmark = pytest.mark.family("hanging")\n\n\n'
        "async def test_before(kit): ...\n\n\n"
        f"async def test_hangs(kit):\n    {hang}\n\n\n"
        "async def test_after(kit): ...\n"
    )
    return [folder]


@pytest.mark.timeout(10)
def test_without_sigusr1_a_loop_is_stopped_and_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, watched_module: Callable[[str], ModuleType]
) -> None:
    windows_signals(monkeypatch)
    flow = watched_module(LOOPS)
    before = signal.getsignal(signal.SIGTERM)
    stuck = pytest.raises(StuckInLearnerCode, match=r"^send ran for more than 0\.1 s")
    with stuck, HangWatch(tmp_path):
        flow.send()
    assert signal.getsignal(signal.SIGTERM) is before, "the watch gives its signal back"


def test_the_fallback_can_be_forced_where_posix_has_more(monkeypatch: pytest.MonkeyPatch) -> None:
    """``CHATKIT_PORTABLE=1`` takes every portable path, so CI can run them on Linux."""
    monkeypatch.setenv(portable.FORCE_FALLBACK, "1")
    assert portable.timeout_method() == "thread"
    assert portable.private_signal() is signal.Signals.SIGTERM
    assert portable.main_thread_clock(threading.main_thread().ident) is time.process_time
    assert "preexec_fn" not in portable.child_options()
    assert not portable.memory_capped()


@pytest.mark.parametrize("platform", ["posix", "windows"])
def test_a_real_ctrl_c_is_not_taken_by_the_watch(
    platform: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if platform == "windows":
        windows_signals(monkeypatch)
    with HangWatch(tmp_path), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_only_the_child_with_the_token_joins_the_channel() -> None:
    with _ResultsChannel() as channel:
        port = int(channel.address.split(":")[0])
        stranger = socket.create_connection(("127.0.0.1", port))
        stranger.sendall(b"0" * 32 + b"\n")
        child = join_results_channel(channel.address)
        connection = channel.accept(lambda: True, time.monotonic() + 5)
        assert connection is not None
        with connection, child, stranger:
            child.sendall(b'{"kind": "collected"}\n')
            assert connection.recv(100) == b'{"kind": "collected"}\n'
            assert stranger.recv(1) == b"", "the stranger was turned away unread"


@pytest.mark.timeout(5)
def test_a_child_that_ended_is_not_waited_for() -> None:
    with _ResultsChannel() as channel:
        assert channel.accept(lambda: False, time.monotonic() + 60) is None


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("windows_children")
def test_with_windows_signals_results_stream_and_a_loop_is_stopped_and_named(
    tmp_path: Path,
) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(broken_source("endless loop in send"))
    report = grade(str(flow), families=["normal flow"])
    outcomes = {r.outcome for r in report.results}
    assert outcomes == {Outcome.PASSED, Outcome.TIMED_OUT}, "scenarios with no send pass"
    stuck = [r for r in report.results if r.outcome is Outcome.TIMED_OUT]
    assert all(r.message.startswith("send ran for more than") for r in stuck)
    assert {r.function for r in stuck} == {"send"}


@pytest.mark.timeout(60)
def test_without_sigalrm_a_scenario_past_its_limit_is_timed_out_and_the_rest_graded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """pytest-timeout's thread ends the child (status 1): that is a timeout, not a crash."""
    scenarios = teacher_scenarios(tmp_path / "mine", "time.sleep(3600)")
    with monkeypatch.context() as windows:  # given back before pytest-timeout needs it again
        windows.delattr(signal, "SIGALRM")
        report = grade("solution", tests=scenarios)
    assert [(r.name, r.outcome) for r in report.results] == [
        ("test_before", Outcome.PASSED),
        ("test_hangs", Outcome.TIMED_OUT),
        ("test_after", Outcome.PASSED),
    ]
    assert "hung and had to be stopped" in report.results[1].message


@pytest.mark.timeout(60)
def test_a_child_the_grader_kills_is_recorded_and_the_rest_graded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A loop inside one C call: neither the hang watch nor SIGALRM can stop it, the kill can."""
    monkeypatch.setattr(runner, "KILL_GRACE", 0.5)
    report = grade("solution", tests=teacher_scenarios(tmp_path / "mine", "sum(range(10**12))"))
    assert [(r.name, r.outcome) for r in report.results] == [
        ("test_before", Outcome.PASSED),
        ("test_hangs", Outcome.TIMED_OUT),
        ("test_after", Outcome.PASSED),
    ]
    assert "hung and had to be stopped" in report.results[1].message


@pytest.mark.parametrize(
    ("method", "returncode", "killed", "outcome"),
    [
        ("thread", 1, True, Outcome.TIMED_OUT),  # Windows: TerminateProcess leaves status 1
        ("thread", 1, False, Outcome.TIMED_OUT),  # Windows: pytest-timeout's os._exit(1)
        ("signal", -9, True, Outcome.TIMED_OUT),  # POSIX: SIGKILL
        ("signal", 1, False, Outcome.CRASHED),  # with SIGALRM, status 1 is not pytest-timeout's
        ("signal", -11, False, Outcome.CRASHED),  # a segfault is a crash, not a hang
    ],
)
def test_a_lost_scenario_is_told_by_who_ended_the_child(
    method: str, returncode: int, killed: bool, outcome: Outcome
) -> None:
    run = _Run(Path("flow.py"), (), None, [], None, None, _Queue(), timeout_method=method)
    run.collected["t"] = Planned("t", "t", "normal flow", 0.5)
    run._record_lost("t", returncode, killed=killed)
    assert run.results["t"].outcome is outcome


def test_a_refused_memory_limit_leaves_the_child_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """macOS refuses a cap on the address space; the child must still start."""

    def refuse(*_: object) -> None:
        raise ValueError("not supported")

    monkeypatch.setattr(resource, "setrlimit", refuse)
    portable.limit_memory()
