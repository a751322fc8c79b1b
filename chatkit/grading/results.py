"""What a grading run produced, as plain data that crosses the process boundary as JSON."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from chatkit.engine.story import Step
from chatkit.grading.families import Family, family_named, family_order
from chatkit.sandbox.confine import confinement_notice

FAMILY_FILTER = "CHATKIT_FAMILIES"
"""Comma-separated family names to keep; empty keeps all."""
HIDDEN_FOLDERS = "CHATKIT_HIDDEN"
"""The teacher's hidden scenario files or folders, joined by ``os.pathsep``: a scenario
in one of them is marked `TestResult.hidden`."""


class Outcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    NOT_WRITTEN = "not written"
    CRASHED = "crashed"


_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff]"
)
"""Characters that would steer a terminal or reorder text rather than be read: C0 and C1
controls but tab and newline (ESC starts a terminal escape, CR overwrites a line),
the line separators, and the bidirectional marks and overrides; lone surrogates,
which no terminal or file can even be given (writing one raises); and the two
non-characters XML refuses (U+FFFE, U+FFFF), which made a JUnit file unreadable."""


EXPLORED = "all timelines"
"""The family the timeline explorer grades: it never waits, so its time-outs are slowness."""


def out_of_time(family: str, message: str) -> str:
    """What a scenario stopped at its time limit tells: ``message``, but for the
    explorer's, which cannot hang (a send that waits for ever is told by rule 15)."""
    if family != EXPLORED:
        return message
    return (
        "the explorer ran out of time before it had checked every timeline. At every step it "
        "compares all your flow keeps outside the chat state: a lot of it (big objects, "
        "caches, a helper module's data) makes each step dear. Or the machine was busy: "
        "grade again when it is quiet"
    )


def escape_controls(text: str) -> str:
    """``text`` with every steering character written out (``\\x1b``, ``\\u202e``), so what
    the learner's code printed or raised is read, never obeyed, wherever it is shown."""
    return _CONTROLS.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


def escaped(data: Any) -> Any:
    """``data`` (decoded JSON from a process that ran learner code) with `escape_controls`
    applied to every string in it, keys included."""
    if isinstance(data, str):
        return escape_controls(data)
    if isinstance(data, list):
        return [escaped(item) for item in data]
    if isinstance(data, dict):
        return {escaped(key): escaped(value) for key, value in data.items()}
    return data


@dataclass(slots=True)
class Location:
    """Where in the learner's code something went wrong."""

    file: str
    line: int
    function: str
    code: str


@dataclass(slots=True)
class TestResult:
    nodeid: str
    name: str
    family: str
    outcome: Outcome
    about: str = ""
    """The scenario's story, from its docstring."""
    duration: float = 0.0
    rule: str | None = None
    """The broken rule, as the design names it ("rule 3, Exactly once")."""
    function: str | None = None
    """The learner's function to look at: send, reconcile or rollback."""
    message: str = ""
    expected: list[str] | None = None
    actual: list[str] | None = None
    story: list[Step] = field(default_factory=list)
    error_type: str | None = None
    location: Location | None = None
    source: str | None = None
    """The scenario's code, for machine-readable results."""
    output: str = ""
    """What the learner's code printed in this scenario (kept up to a limit)."""
    output_dropped: int = 0
    """How many printed characters were past that limit."""
    note: str = ""
    """What the scenario measured, from its ``record_property`` calls ("62,370 timelines checked")."""
    hidden: bool = False
    """A teacher's hidden scenario: it counts, but the learner is told only that it failed
    (`chatkit.grading.visibility`)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TestResult:
        data = dict(data)
        data["outcome"] = Outcome(data["outcome"])
        data["story"] = [Step.from_json(step) for step in data.get("story", [])]
        if data.get("location"):
            data["location"] = Location(**data["location"])
        return cls(**data)


@dataclass(slots=True)
class LoadError:
    """Why the target could not be loaded at all, or why its grade is refused."""

    message: str
    error_type: str | None = None
    location: Location | None = None
    refused: bool = False
    """True when the grader refused to grade (the flow does what a flow may not), rather
    than failed to load it."""
    missing: bool = False
    """True when there is no flow where the target points (nothing was loaded at all)."""


@dataclass(slots=True)
class FamilyResult:
    family: Family
    results: list[TestResult]

    @property
    def passed(self) -> int:
        return sum(result.outcome is Outcome.PASSED for result in self.results)

    @property
    def total(self) -> int:
        return len(self.results)

    def count(self, outcome: Outcome) -> int:
        return sum(result.outcome is outcome for result in self.results)


@dataclass(slots=True)
class GradeReport:
    target: str
    """The target as the user named it."""
    path: str
    """The ``flow.py`` that was graded."""
    results: list[TestResult] = field(default_factory=list)
    load_error: LoadError | None = None
    confinement: str | None = field(default_factory=confinement_notice)
    """None when the learner's code ran confined (`chatkit.sandbox.confine`); else the one
    line the report says about it, because this system cannot confine it."""

    @property
    def families(self) -> list[FamilyResult]:
        grouped: dict[str, list[TestResult]] = {}
        for result in self.results:
            grouped.setdefault(result.family, []).append(result)
        return [
            FamilyResult(family_named(name), grouped[name])
            for name in sorted(grouped, key=family_order)
        ]

    @property
    def score(self) -> int:
        """Out of 100: each family's share of passing scenarios, weighted."""
        families = self.families
        total_weight = sum(result.family.weight for result in families)
        if self.load_error is not None or total_weight == 0:
            return 0
        earned = sum(result.family.weight * result.passed / result.total for result in families)
        return int(100 * earned / total_weight)

    @property
    def passed(self) -> int:
        return sum(result.outcome is Outcome.PASSED for result in self.results)

    @property
    def exit_code(self) -> int:
        """0 all passed, 1 some failed, 2 the target could not be loaded."""
        if self.load_error is not None or not self.results:
            return 2
        return 0 if self.passed == len(self.results) else 1


# What the child tells the parent, one JSON line per message, as it goes.


@dataclass(frozen=True, slots=True)
class Planned:
    """A scenario the child will run."""

    nodeid: str
    name: str
    family: str
    budget: float
    """The scenario's time budget, in seconds: the parent's deadline is set from it."""
    hidden: bool = False
    file: str = ""
    """Its file (absolute): results of children run side by side are put in its order."""


@dataclass(frozen=True, slots=True)
class Collected:
    """The scenarios the child will run, once every filter has been applied, and the
    scenario files it could not load (what went wrong, with the file and the line)."""

    tests: list[Planned]
    broken_files: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Started:
    """The child starts one scenario."""

    nodeid: str


@dataclass(frozen=True, slots=True)
class Finished:
    """One scenario's result."""

    result: TestResult


@dataclass(frozen=True, slots=True)
class Next:
    """The child is ready for its next scenario: the parent answers with its node id, as a
    JSON line (``null`` when none is left)."""


ChildMessage = Collected | Started | Finished | Next


def encode(message: ChildMessage) -> str:
    """One line of JSON: the message's kind, and its fields."""
    match message:
        case Collected(tests, broken_files):
            tests_json = [asdict(test) for test in tests]
            return json.dumps({"kind": "collected", "tests": tests_json, "broken": broken_files})
        case Started(nodeid):
            return json.dumps({"kind": "started", "nodeid": nodeid})
        case Finished(result):
            return json.dumps({"kind": "finished", "result": result.to_json()})
        case Next():
            return json.dumps({"kind": "next"})


def decode(line: bytes | str) -> ChildMessage:
    """The message one line of `encode` holds."""
    data = escaped(json.loads(line))
    match data["kind"]:
        case "collected":
            tests = [Planned(**test) for test in data["tests"]]
            return Collected(tests, [str(text) for text in data.get("broken", [])])
        case "started":
            return Started(data["nodeid"])
        case "finished":
            return Finished(TestResult.from_json(data["result"]))
        case "next":
            return Next()
    raise ValueError(f"not a message from the grader's child: {data['kind']!r}")
