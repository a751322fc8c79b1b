"""Grade a target: probe that it loads, then run the scenarios in a child process.

The learner's code never runs in the grader's own process. The child streams one
result per scenario through a loopback socket; if it hangs past a scenario's hard
limit, or dies, the grader kills it, records that scenario as timed out or crashed,
and starts a new child for the scenarios that are left. Every finished result is kept.

The same code runs on Linux, macOS and Windows: a socket (not an inherited pipe, which
Windows cannot wait on with a deadline), a process group of the child's own on each,
and the memory cap only where the system has one to set.
"""

from __future__ import annotations

import compileall
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from chatkit.grading.families import family_named
from chatkit.grading.results import (
    FAMILY_FILTER,
    HIDDEN_FOLDERS,
    Collected,
    Finished,
    GradeReport,
    LoadError,
    Location,
    Next,
    Outcome,
    Planned,
    Started,
    TestResult,
    decode,
    escaped,
    out_of_time,
)
from chatkit.grading.trust import kit_fingerprint, misplaced, refusal, tampered, uncheckable
from chatkit.kit_home import TargetError, kit_root
from chatkit.limits import (
    HARD_LIMIT_GRACE,
    KILL_GRACE,
    PROBE_SECONDS,
    STARTUP_SECONDS,
)
from chatkit.portable import child_options, kill_child, timeout_method
from chatkit.sandbox import Uncheckable, check_target
from chatkit.sandbox.confine import HOME, child_environment, learner_environment, scratch_folder
from chatkit.sandbox.world import HASH_SEED
from chatkit.target import resolve_target

RESULTS_CHANNEL = "CHATKIT_RESULTS"
"""Names, in the child's environment, where it sends its results: ``port:token`` on loopback."""
LOOPBACK = "127.0.0.1"
TOKEN_BYTES = 16
"""The child proves it is the grader's own by sending this many random bytes (as hex) first."""
ACCEPT_SLICE = 0.05
"""How often, while waiting for the child to join the channel, the grader looks whether
it has ended instead (it cannot join then, and waiting on would only delay the error)."""
PLUGIN_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"
_OUTPUT_KEPT = 64 * 1024
"""How much of a child's own output (pytest's, never a flow's) the grader keeps: its end."""
PYTEST_TIMEOUT_EXIT = 1
"""Where there is no SIGALRM (Windows), pytest-timeout ends a scenario past its hard
limit by ending the process with this status (``os._exit(1)``)."""


class GraderError(Exception):
    """The grader itself could not run the scenarios (not the learner's fault)."""


def scenarios_dir() -> Path:
    return kit_root() / "tests" / "scenarios"


def grade(
    target: str,
    *,
    families: Sequence[str] = (),
    keyword: str | None = None,
    tests: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
    on_result: Callable[[TestResult], None] | None = None,
    on_collected: Callable[[int], None] | None = None,
    side_by_side: bool = False,
) -> GradeReport:
    """Run the graded scenarios (or ``tests``) against ``target`` and return the report.

    ``hidden`` adds a teacher's scenario files or folders whose results are marked hidden:
    they count in the score, and `chatkit.grading.visibility` keeps them from the learner.
    ``side_by_side`` runs two children that take the scenarios from one list (`_Queue`),
    the heavy families' first: for one grading on a machine with a core to spare, not for
    many gradings at once, which already keep every core busy.
    """
    try:
        path = resolve_target(target)
    except TargetError as error:
        return GradeReport(target, target, load_error=LoadError(str(error), missing=True))
    report = GradeReport(target, str(path))
    report.load_error = misplaced(path.parent)
    if report.load_error is not None:
        return report
    before = kit_fingerprint(path.parent)  # before anything of the learner's runs, probe included
    _write_bytecode()
    try:
        report.load_error = refusal(check_target(path))
    except Uncheckable as error:
        report.load_error = uncheckable(error)
    if report.load_error is None:
        paths = [*(list(tests) or [scenarios_dir()]), *hidden]
        children = 2 if side_by_side and available_cores() >= 2 else 1
        together = _Together(children, on_result, on_collected)
        queue = _Queue()
        runs = [
            _Run(
                path,
                families,
                keyword,
                paths,
                together.result,
                together.collected,
                queue,
                hidden=[folder.resolve() for folder in hidden],
            )
            for _ in range(children)
        ]
        report.load_error, report.results = _probe_beside(path, runs, together)
    report.load_error = tampered(before, kit_fingerprint(path.parent)) or report.load_error
    return report


def _probe_beside(
    path: Path, runs: list[_Run], together: _Together
) -> tuple[LoadError | None, list[TestResult]]:
    """Probe the flow (`_probe`) while the children start: their start-up takes longer than
    the probe, so a flow that loads is graded as soon as it would be without one. Nothing
    the children find is told until the probe passed; when it does not, they are stopped
    and what they found is dropped: the report is the load error alone."""
    verdict: list[LoadError | None] = []

    def probe() -> None:
        error = _probe(path)
        verdict.append(error)
        if error is None:
            together.open()
        else:
            for run in runs:
                run.stop()

    prober = threading.Thread(target=probe, name="probe", daemon=True)
    prober.start()
    try:
        results = _execute(runs)
    except GraderError:
        prober.join()
        if verdict[0] is None:
            raise
        results = []
    prober.join()
    return (verdict[0], []) if verdict[0] is not None else (None, results)


def _write_bytecode() -> None:
    """Compile the kit's runtime once, here, as an import would: the probe, the children and
    their phones may not write in the kit (they are confined), and without it each of them
    compiled every module it imported again (0.1–0.2 s of each start). A kit that cannot
    be written in is graded all the same."""
    compileall.compile_dir(kit_root() / "chatkit", quiet=2)


def available_cores() -> int:
    """The cores this process may run on (fewer than the machine's in a limited container)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _execute(runs: list[_Run]) -> list[TestResult]:
    """Run each `_Run` in a thread of its own; their results, in the order collected.

    If one fails (or the grader is stopped), the others' children are stopped too.
    """
    if len(runs) == 1:
        return runs[0].execute()
    with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="lane") as pool:
        futures = [pool.submit(run.execute) for run in runs]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            for run in runs:
                run.stop()
            raise
    found = {nodeid: result for run in runs for nodeid, result in run.results.items()}
    order = {nodeid: None for run in runs for nodeid in run.collected}
    return [found[nodeid] for nodeid in order if nodeid in found]


class _Together:
    """The callbacks of one grading run by several children: each result is told as it
    comes (one at a time), the number of scenarios once every child has collected (they
    collect the same list); nothing before the flow is known to load (`open`)."""

    def __init__(
        self,
        children: int,
        on_result: Callable[[TestResult], None] | None,
        on_collected: Callable[[int], None] | None,
    ) -> None:
        self._waiting = children
        self._total = 0
        self._on_result = on_result
        self._on_collected = on_collected
        self._lock = threading.Lock()
        self._held: list[Callable[[], None]] | None = []
        """What is yet to be told, until `open`."""

    def open(self) -> None:
        """The flow loads: tell what came so far, and from now on all as it comes."""
        with self._lock:
            held, self._held = self._held or [], None
            for tell in held:
                tell()

    def result(self, result: TestResult) -> None:
        on_result = self._on_result
        if on_result is not None:
            self._tell(lambda: on_result(result))

    def collected(self, count: int) -> None:
        with self._lock:
            self._total = max(self._total, count)
            self._waiting -= 1
            total, on_collected = self._total, self._on_collected
            if self._waiting != 0 or on_collected is None:
                return
        self._tell(lambda: on_collected(total))

    def _tell(self, tell: Callable[[], None]) -> None:
        with self._lock:
            if self._held is not None:
                self._held.append(tell)
            else:
                tell()


def _probe(path: Path) -> LoadError | None:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "chatkit.grading.probe", str(path)],
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
            stdin=subprocess.DEVNULL,
            cwd=HOME,
            env=learner_environment(child_environment(None)),  # confined, and writes nothing
        )
    except subprocess.TimeoutExpired:
        return LoadError(
            f"importing {path.name} did not finish within {PROBE_SECONDS:g} s "
            "(is there a loop or a wait at module level?)"
        )
    lines = done.stdout.strip().splitlines()
    try:
        answer: object = escaped(json.loads(lines[-1])) if lines else {}
    except (json.JSONDecodeError, RecursionError):
        answer = {}
    if answer is None:
        return None
    if not answer:
        return LoadError(f"importing {path.name} ended the process (exit status {done.returncode})")
    return _load_error(answer) or LoadError(
        f"importing {path.name} did not end with an answer the grader can read: something "
        "in your module changed how Python itself works, which a flow never needs"
    )


def _load_error(answer: object) -> LoadError | None:
    """The probe's verdict, read field by field; None if it is not one (what the probe
    writes, the learner's module ran just before: it is read as the wire is)."""
    if type(answer) is not dict:
        return None
    message, error_type, place = (
        answer.get(name) for name in ("message", "error_type", "location")
    )
    if type(message) is not str or not (error_type is None or type(error_type) is str):
        return None
    location = None
    if place is not None:
        if type(place) is not dict:
            return None
        file, line, function, code = (
            place.get(name) for name in ("file", "line", "function", "code")
        )
        if not (type(file) is type(function) is type(code) is str and type(line) is int):
            return None
        location = Location(file, line, function, code)
    return LoadError(message=message, error_type=error_type, location=location)


class _Queue:
    """The scenarios of one grading, handed out one at a time to the children that run
    them, the heavy families' first: two children side by side each take the next when
    they are ready, so neither idles while the other has much left. A scenario handed to
    a child that ended before finishing it goes back to the front."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[str] = []
        self._known: set[str] = set()

    def fill(self, tests: list[Planned]) -> None:
        """Queue what a child collected, unless it was queued already (every child collects
        the same scenarios; one started again leaves out what it finished)."""
        with self._lock:
            new = [test for test in tests if test.nodeid not in self._known]
            self._known.update(test.nodeid for test in new)
            new.sort(key=lambda test: not family_named(test.family).heavy)  # stable
            self._waiting += [test.nodeid for test in new]

    def take(self) -> str | None:
        """The next scenario to run, or None: all are handed out."""
        with self._lock:
            return self._waiting.pop(0) if self._waiting else None

    def give_back(self, nodeids: Sequence[str]) -> None:
        with self._lock:
            self._waiting[:0] = nodeids

    def left(self) -> bool:
        with self._lock:
            return bool(self._waiting)


@dataclass
class _Run:
    """One lane of a grading: a child process at a time, each taking scenarios from the
    grading's `_Queue` until it is empty (a child that dies or hangs is followed by another)."""

    path: Path
    families: Sequence[str]
    keyword: str | None
    tests: list[Path]
    on_result: Callable[[TestResult], None] | None
    on_collected: Callable[[int], None] | None
    queue: _Queue
    hidden: list[Path] = field(default_factory=list)
    """The teacher's hidden scenario files or folders: the child marks their results."""
    collected: dict[str, Planned] = field(default_factory=dict)
    results: dict[str, TestResult] = field(default_factory=dict)
    handed: list[str] = field(default_factory=list)
    """The scenarios the child running now was handed."""
    timeout_method: str = field(default_factory=timeout_method)
    child: subprocess.Popen[bytes] | None = None
    """The child running now, if one is."""
    stopped: bool = False

    def execute(self) -> list[TestResult]:
        while not self.stopped:
            finished = len(self.results)
            if self._child().walked or not self.queue.left():
                break
            if len(self.results) == finished:
                raise GraderError("a fresh child process made no progress on the scenarios left")
        return self.ordered()

    def ordered(self) -> list[TestResult]:
        """The results so far, in the order the scenarios were collected."""
        return [self.results[nodeid] for nodeid in self.collected if nodeid in self.results]

    def stop(self) -> None:
        """Stop at once (from another thread): the child is killed, no other is started."""
        self.stopped = True
        if self.child is not None:
            kill_child(self.child)

    def _child(self) -> _Ending:
        self.handed = []
        with _ResultsChannel() as channel, scratch_folder() as scratch:
            child = self.child = self._start(channel.address, scratch)
            if self.stopped:  # stopped while it started (`stop` found no child to kill)
                kill_child(child)
            output = _drain_in_background(child)
            try:
                ending = self._listen(channel, child)
                if ending.overdue:
                    kill_child(child)
                child.wait()
            except BaseException:
                kill_child(child)  # the grader itself was stopped (Ctrl-C): its child goes too
                raise
        if not ending.saw_collection:
            raise GraderError(
                f"the scenarios could not be collected (pytest exit {child.returncode}):\n"
                + output()
            )
        if ending.running is not None:
            self._record_lost(ending.running, child.returncode, killed=ending.overdue)
        self.queue.give_back([nodeid for nodeid in self.handed if nodeid not in self.results])
        return ending

    def _listen(self, channel: _ResultsChannel, child: subprocess.Popen[bytes]) -> _Ending:
        """Wait for the child to join the channel, then follow its results."""
        connection = channel.accept(
            lambda: child.poll() is None, time.monotonic() + STARTUP_SECONDS
        )
        if connection is None:
            return _Ending(overdue=child.poll() is None)
        with connection:
            return self._follow(connection)

    def _start(self, channel: str, scratch: Path) -> subprocess.Popen[bytes]:
        """Start pytest on the scenarios left, in a process group of its own, confined
        to write only in ``scratch``."""
        command = [
            sys.executable, "-m", "pytest", *map(str, self.tests),
            "--target", str(self.path),
            "-p", "chatkit.grading.plugin",
            "-p", "pytest_timeout",  # the one installed plugin grading needs (see below)
            "-p", "no:cacheprovider",
            "-q", "--no-header", "-rN", "--tb=no",  # the report tells failures, not pytest
            "-c", str(kit_root() / "pyproject.toml"),
            "--rootdir", str(kit_root()),
            "-o", f"timeout_method={self.timeout_method}",
        ]  # fmt: skip
        if self.keyword:
            command += ["-k", self.keyword]
        for nodeid in self.results:
            command += ["--deselect", nodeid]
        env = {
            **os.environ,
            RESULTS_CHANNEL: channel,
            FAMILY_FILTER: ",".join(self.families),
            HIDDEN_FOLDERS: os.pathsep.join(map(str, self.hidden)),
            "PYTHONHASHSEED": HASH_SEED,  # hash() of a string is the same on every run
            **child_environment(scratch),
            # Other installed pytest plugins (xdist, anyio, …) are not loaded: grading needs
            # none of them, and loading them cost each grading half a second of start-up.
            PLUGIN_AUTOLOAD: "1",
        }
        return subprocess.Popen(
            command,
            env=env,
            cwd=kit_root(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **child_options(),
        )

    def _follow(self, connection: socket.socket) -> _Ending:
        """Read results until the child ends, or a scenario overstays its limit."""
        ending = _Ending()
        deadline = time.monotonic() + STARTUP_SECONDS
        buffer = b""
        while True:
            chunk = _receive(connection, deadline - time.monotonic())
            if chunk is None:
                ending.overdue = True  # silent past its deadline: hung on a scenario
                return ending
            if not chunk:
                return ending  # the child ended
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                match decode(line):
                    case Collected(tests, broken_files):
                        ending.saw_collection = True
                        if broken_files:
                            raise GraderError(
                                "a scenario file could not be loaded:\n" + "\n\n".join(broken_files)
                            )
                        self._collect(tests)
                        self.queue.fill(tests)
                        deadline = time.monotonic() + STARTUP_SECONDS
                    case Next():
                        nodeid = self.queue.take()
                        if nodeid is None:
                            ending.walked = True
                        else:
                            self.handed.append(nodeid)
                        connection.sendall(json.dumps(nodeid).encode() + b"\n")
                    case Started(nodeid):
                        ending.running = nodeid
                        budget = self.collected[nodeid].budget
                        deadline = time.monotonic() + budget + HARD_LIMIT_GRACE + KILL_GRACE
                    case Finished(result):
                        self._record(result)
                        ending.running = None
                        deadline = time.monotonic() + STARTUP_SECONDS

    def _collect(self, tests: list[Planned]) -> None:
        first = not self.collected
        for test in tests:
            self.collected.setdefault(test.nodeid, test)
        if first and self.on_collected is not None:
            self.on_collected(len(self.collected))

    def _record(self, result: TestResult) -> None:
        if result.nodeid in self.results:
            return
        self.results[result.nodeid] = result
        if self.on_result is not None:
            self.on_result(result)

    def _record_lost(self, nodeid: str, returncode: int | None, *, killed: bool) -> None:
        """The child died, or was killed, in the middle of ``nodeid``.

        Whether the grader killed it is told, not read from the exit status: on Windows a
        killed process ends with status 1, not a negative signal number.
        """
        test = self.collected[nodeid]
        timed_out = killed or (
            self.timeout_method == "thread" and returncode == PYTEST_TIMEOUT_EXIT
        )
        self._record(
            TestResult(
                nodeid=nodeid,
                name=test.name,
                family=test.family,
                outcome=Outcome.TIMED_OUT if timed_out else Outcome.CRASHED,
                hidden=test.hidden,
                message=(
                    out_of_time(
                        test.family,
                        "the scenario hung and had to be stopped: something loops or waits forever",
                    )
                    if timed_out
                    else f"the process running your code ended (exit status {returncode}) in the "
                    "middle of this scenario; does your code call sys.exit or os._exit?"
                ),
            )
        )


@dataclass
class _Ending:
    """How one child's stream of results ended."""

    running: str | None = None
    """The scenario it was in the middle of, if any."""
    saw_collection: bool = False
    walked: bool = False
    """It asked for the next scenario when none was left (so it ran all it was handed)."""
    overdue: bool = False
    """Silent past its deadline (at start, or in a scenario): the grader kills it."""


class _ResultsChannel:
    """The parent's end of the results channel: a loopback socket only its child can join.

    Any local process can connect to a loopback port, so the child must first send the
    token the parent put in its environment; a connection without it is closed unread.
    """

    def __init__(self) -> None:
        self._server = socket.create_server((LOOPBACK, 0))
        self._token = secrets.token_hex(TOKEN_BYTES).encode()

    @property
    def address(self) -> str:
        """What the child needs to join: ``port:token``."""
        return f"{self._server.getsockname()[1]}:{self._token.decode()}"

    def accept(self, alive: Callable[[], bool], deadline: float) -> socket.socket | None:
        """The child's connection, or ``None`` if it ended or was still silent by ``deadline``."""
        while alive() and (left := deadline - time.monotonic()) > 0:
            self._server.settimeout(min(left, ACCEPT_SLICE))
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            if self._admits(connection, deadline):
                return connection
            connection.close()
        return None

    def _admits(self, connection: socket.socket, deadline: float) -> bool:
        said = b""
        while len(said) < len(self._token) + 1:
            chunk = _receive(
                connection, deadline - time.monotonic(), len(self._token) + 1 - len(said)
            )
            if not chunk:  # closed, or silent: not the grader's child
                return False
            said += chunk
        return hmac.compare_digest(said, self._token + b"\n")

    def __enter__(self) -> _ResultsChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.close()


def join_results_channel(address: str) -> socket.socket:
    """The child's end: connect to the parent at ``address`` (``port:token``) and prove it."""
    port, token = address.split(":")
    connection = socket.create_connection((LOOPBACK, int(port)))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each result at once
    connection.sendall(token.encode() + b"\n")
    return connection


def _receive(connection: socket.socket, left: float, size: int = 65536) -> bytes | None:
    """Up to ``size`` bytes; ``b""`` once the other end closed; ``None`` if ``left`` s passed."""
    if left <= 0:
        return None
    connection.settimeout(left)
    try:
        return connection.recv(size)
    except TimeoutError:
        return None
    except ConnectionError:  # Windows: a process that ended may reset rather than close
        return b""


def _drain_in_background(child: subprocess.Popen[bytes]) -> Callable[[], str]:
    """Keep reading the child's output so it never blocks on a full pipe, keeping only its
    end (what says why it stopped): however much it writes, the grader's memory stays."""
    stream = child.stdout
    assert stream is not None
    tail = bytearray()

    def pump() -> None:
        for chunk in iter(lambda: stream.read(4096), b""):
            tail.extend(chunk)
            del tail[:-_OUTPUT_KEPT]

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()

    def output() -> str:
        thread.join(timeout=5)
        return bytes(tail).decode(errors="replace")[-4000:]

    return output
