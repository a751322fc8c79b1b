"""Grade a target: probe that it loads, then run the scenarios in a child process.

The learner's code never runs in the grader's own process. The child streams one
result per scenario through a pipe; if it hangs past a scenario's hard limit, or
dies, the grader kills it, records that scenario as timed out or crashed, and starts
a new child for the scenarios that are left. Every finished result is kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatkit.grading.results import (
    FAMILY_FILTER,
    RESULTS_FD,
    Collected,
    Finished,
    GradeReport,
    LoadError,
    Location,
    Outcome,
    Planned,
    Started,
    TestResult,
    decode,
)
from chatkit.grading.trust import kit_fingerprint, refusal, tampered
from chatkit.limits import (
    HARD_LIMIT_GRACE,
    KILL_GRACE,
    MEMORY_LIMIT,
    PROBE_SECONDS,
    STARTUP_SECONDS,
)
from chatkit.sandbox import check_target
from chatkit.target import TargetError, kit_root, resolve_target


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
    on_result: Callable[[TestResult], None] | None = None,
    on_collected: Callable[[int], None] | None = None,
) -> GradeReport:
    """Run the graded scenarios (or ``tests``) against ``target`` and return the report."""
    try:
        path = resolve_target(target)
    except TargetError as error:
        return GradeReport(target, target, load_error=LoadError(str(error)))
    report = GradeReport(target, str(path))
    report.load_error = refusal(check_target(path)) or _probe(path)
    if report.load_error is not None:
        return report

    before = kit_fingerprint(path.parent)
    run = _Run(path, families, keyword, list(tests) or [scenarios_dir()], on_result, on_collected)
    report.results = run.execute()
    report.load_error = tampered(before, kit_fingerprint(path.parent))
    return report


def _probe(path: Path) -> LoadError | None:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "chatkit.grading.probe", str(path)],
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return LoadError(
            f"importing {path.name} did not finish within {PROBE_SECONDS:g} s "
            "(is there a loop or a wait at module level?)"
        )
    lines = done.stdout.strip().splitlines()
    try:
        answer: dict[str, Any] | None = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        answer = {}
    if answer is None:
        return None
    if not answer:
        return LoadError(f"importing {path.name} ended the process (exit status {done.returncode})")
    location = answer.get("location")
    return LoadError(
        message=answer["message"],
        error_type=answer.get("error_type"),
        location=Location(**location) if location else None,
    )


@dataclass
class _Run:
    """One grading run, possibly over several child processes."""

    path: Path
    families: Sequence[str]
    keyword: str | None
    tests: list[Path]
    on_result: Callable[[TestResult], None] | None
    on_collected: Callable[[int], None] | None
    collected: dict[str, Planned] = field(default_factory=dict)
    results: dict[str, TestResult] = field(default_factory=dict)

    def execute(self) -> list[TestResult]:
        self._child()
        while len(self.results) < len(self.collected):
            finished = len(self.results)
            self._child()
            if len(self.results) == finished:
                raise GraderError("a fresh child process made no progress on the scenarios left")
        return [self.results[nodeid] for nodeid in self.collected]

    def _child(self) -> None:
        read_end, write_end = os.pipe()
        command = [
            sys.executable, "-m", "pytest", *map(str, self.tests),
            "--target", str(self.path),
            "-p", "chatkit.grading.plugin",
            "-p", "no:cacheprovider",
            "-q", "--no-header", "-rN", "--tb=no",  # the report tells failures, not pytest
            "-c", str(kit_root() / "pyproject.toml"),
            "--rootdir", str(kit_root()),
        ]  # fmt: skip
        if self.keyword:
            command += ["-k", self.keyword]
        for nodeid in self.results:
            command += ["--deselect", nodeid]
        env = {
            **os.environ,
            RESULTS_FD: str(write_end),
            FAMILY_FILTER: ",".join(self.families),
            "PYTHONHASHSEED": "0",  # hash() of a string is the same on every run
        }
        child = subprocess.Popen(
            command,
            pass_fds=(write_end,),
            env=env,
            cwd=kit_root(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_limit_memory,
        )
        os.close(write_end)
        output = _drain_in_background(child)
        running, saw_collection = self._follow(child, read_end)
        os.close(read_end)
        child.wait()
        if not saw_collection:
            raise GraderError(
                f"the scenarios could not be collected (pytest exit {child.returncode}):\n"
                + output()
            )
        if running is not None:
            self._record_lost(running, child.returncode)

    def _follow(self, child: subprocess.Popen[bytes], read_end: int) -> tuple[str | None, bool]:
        """Read results until the child ends; kill it if a scenario overstays its limit.

        Returns the scenario that was running when the child ended (if any) and
        whether the child reported its collection.
        """
        running: str | None = None
        deadline = time.monotonic() + STARTUP_SECONDS
        saw_collection = False
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(read_end, selectors.EVENT_READ)
            while True:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    _kill(child)  # silent past its deadline: hung on a scenario, or at start
                    return running, saw_collection
                chunk = os.read(read_end, 65536)
                if not chunk:
                    return running, saw_collection
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    match decode(line):
                        case Collected(tests):
                            saw_collection = True
                            self._collect(tests)
                            deadline = time.monotonic() + STARTUP_SECONDS
                        case Started(nodeid):
                            running = nodeid
                            budget = self.collected[nodeid].budget
                            deadline = time.monotonic() + budget + HARD_LIMIT_GRACE + KILL_GRACE
                        case Finished(result):
                            self._record(result)
                            running = None
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

    def _record_lost(self, nodeid: str, returncode: int | None) -> None:
        """The child died or was killed in the middle of ``nodeid``."""
        test = self.collected[nodeid]
        killed = returncode is not None and returncode < 0
        self._record(
            TestResult(
                nodeid=nodeid,
                name=test.name,
                family=test.family,
                outcome=Outcome.TIMED_OUT if killed else Outcome.CRASHED,
                message=(
                    "the scenario hung and had to be stopped: something loops or waits forever"
                    if killed
                    else f"the process running your code ended (exit status {returncode}) in the "
                    "middle of this scenario; does your code call sys.exit or os._exit?"
                ),
            )
        )


def _limit_memory() -> None:
    """In the child, before it runs: a huge allocation fails at once with MemoryError."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _kill(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)


def _drain_in_background(child: subprocess.Popen[bytes]) -> Callable[[], str]:
    """Keep reading the child's output so it never blocks on a full pipe."""
    stream = child.stdout
    assert stream is not None
    chunks: list[bytes] = []

    def pump() -> None:
        for chunk in iter(lambda: stream.read(4096), b""):
            chunks.append(chunk)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()

    def output() -> str:
        thread.join(timeout=5)
        return b"".join(chunks).decode(errors="replace")[-4000:]

    return output
