"""An exploration as plain data: the phone explores, the judge reads what it found.

The explorer runs the learner's flow thousands of times a second, so it runs where
the flow is, on a phone (``explore`` in `chatkit.phone.runtime`). What comes back is
data, read field by field: the counts, how many timelines broke which rule, and for
each rule the shortest story with its screens. The judge rebuilds an `Exploration`
from it and never runs the learner's code.

The phone says what it found; a flow that subverts its own phone can at most change
this family's verdict, never another's (each family's phones are its own).
"""

from __future__ import annotations

from typing import Any

from chatkit.engine.rules import Rule, RuleBroken
from chatkit.engine.story import Kind, Step
from chatkit.engine.timelines.explore import Exploration, Story
from chatkit.engine.timelines.run import Failure
from chatkit.engine.timelines.world import Event, EventKind, SendOutcome, SendPlan, SmallWorld

_COUNTS = ("orderings", "executed", "states", "transitions", "replayed", "merged", "shortcuts")


class ExplorationError(ValueError):
    """What a phone sent is not an exploration."""


def world_data(world: SmallWorld) -> dict[str, Any]:
    """A world as the judge sends it."""
    return {
        "sends": [[plan.body, plan.outcome.value, plan.echoes, plan.retry] for plan in world.sends],
        "other": world.other,
    }


def world_from(data: dict[str, Any]) -> SmallWorld:
    """The world the judge sent (the phone trusts the judge)."""
    sends = tuple(
        SendPlan(body, SendOutcome(outcome), echoes, retry)
        for body, outcome, echoes, retry in data["sends"]
    )
    return SmallWorld(sends, data["other"])


def exploration_data(result: Exploration, error_data: Any, blame_data: Any) -> dict[str, Any]:
    """What the phone's exploration found, as the wire carries it."""
    return {
        **{name: getattr(result, name) for name in _COUNTS},
        "seconds": result.seconds,
        "broken": dict(result.broken),
        "stories": {
            label: _story_data(story, error_data, blame_data)
            for label, story in result.counterexamples.items()
        },
    }


def _story_data(story: Story, error_data: Any, blame_data: Any) -> dict[str, Any]:
    failure: dict[str, Any] | None = None
    if story.failure is not None:
        error = story.failure.error
        if isinstance(error, RuleBroken):
            failure = {
                "rule": error.rule.number,
                "detail": error.detail,
                "expected": error.expected,
                "actual": error.actual,
                "function": error.function,
                "blame": blame_data(error.blame),
            }
        else:
            failure = {"error": error_data(error)}
    return {
        "events": [[event.kind.value, event.send] for event in story.events],
        "steps": [step.to_json() for step in story.steps],
        "failure": failure,
    }


def exploration_from(data: object, world: SmallWorld, raised: Any, blame_of: Any) -> Exploration:
    """The judge's `Exploration`, rebuilt from what a phone sent (checked as it goes)."""
    if type(data) is not dict:
        raise ExplorationError("an exploration that is not a mapping")
    result = Exploration(world)
    for name in _COUNTS:
        setattr(result, name, _count(data.get(name)))
    seconds = data.get("seconds")
    result.seconds = float(seconds) if isinstance(seconds, int | float) else 0.0
    broken = data.get("broken")
    if type(broken) is not dict:
        raise ExplorationError("a tally that is not one")
    result.broken = {_text(label): _count(count) for label, count in broken.items()}
    stories = data.get("stories")
    if type(stories) is not dict:
        raise ExplorationError("stories that are not a mapping")
    result.counterexamples = {
        _text(label): _story_from(story, raised, blame_of) for label, story in stories.items()
    }
    return result


def _story_from(data: object, raised: Any, blame_of: Any) -> Story:
    if type(data) is not dict:
        raise ExplorationError("a story that is not one")
    events = tuple(
        Event(EventKind(_text(kind)), _count(send, low=-1))
        for kind, send in _pairs(data.get("events"))
    )
    steps = tuple(_step_from(step) for step in _list(data.get("steps")))
    failure_data = data.get("failure")
    failure: Failure | None = None
    if failure_data is not None:
        if type(failure_data) is not dict:
            raise ExplorationError("a failure that is not one")
        if "error" in failure_data:
            failure = Failure(raised(failure_data["error"]))
        else:
            failure = Failure(
                RuleBroken(
                    _rule(failure_data.get("rule")),
                    _text(failure_data.get("detail")),
                    expected=_lines(failure_data.get("expected")),
                    actual=_lines(failure_data.get("actual")),
                    blame=blame_of(failure_data.get("blame")),
                    function=_maybe_text(failure_data.get("function")),
                )
            )
    return Story(events, steps, failure)


def _step_from(data: object) -> Step:
    if type(data) is not dict:
        raise ExplorationError("a step that is not one")
    timelines = data.get("timelines")
    if type(timelines) is not dict:
        raise ExplorationError("screens that are not a mapping")
    return Step(
        _count(data.get("number")),
        _text(data.get("text")),
        {_text(user): _lines(lines) or [] for user, lines in timelines.items()},
        Kind(_text(data.get("kind"))),
        _text(data.get("source")),
        _text(data.get("target")),
        _text(data.get("printed")),
        _maybe_text(data.get("broke")),
    )


def _rule(number: object) -> Rule:
    for rule in Rule:
        if rule.number == number:
            return rule
    raise ExplorationError(f"no rule numbered {number!r}")


def _count(value: object, low: int = 0) -> int:
    if type(value) is not int or value < low:
        raise ExplorationError("a count that is not one")
    return value


def _text(value: object) -> str:
    if type(value) is not str:
        raise ExplorationError("text expected")
    return value


def _maybe_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _list(value: object) -> list[Any]:
    if type(value) is not list:
        raise ExplorationError("a list expected")
    return value


def _lines(value: object) -> list[str] | None:
    return None if value is None else [_text(line) for line in _list(value)]


def _pairs(value: object) -> list[tuple[object, object]]:
    pairs = _list(value)
    if any(type(pair) is not list or len(pair) != 2 for pair in pairs):
        raise ExplorationError("a pair that is not one")
    return [(pair[0], pair[1]) for pair in pairs]
