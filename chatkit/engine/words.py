"""How the story speaks: "you send" but "bob sends", a long body shortened."""

from __future__ import annotations


def does(user: str, verb: str) -> str:
    """``you send`` but ``bob sends``: the story speaks to the learner."""
    if user == "you":
        return f"you {verb}"
    return f"{user} {verb[:-1]}ies" if verb.endswith("y") else f"{user} {verb}s"


def whose(user: str) -> str:
    return "your" if user == "you" else f"{user}'s"


def quote(body: str, limit: int = 40) -> str:
    """A body as the story shows it: quoted, and shortened if it is long."""
    if len(body) <= limit:
        return repr(body)
    return f"{body[:limit]!r}… ({len(body)} characters)"
