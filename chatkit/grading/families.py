"""The scenario families the grader knows, their weights and where their hints live.

A family is declared by a scenario module with ``pytest.mark.family("name")``. A
family the grader does not know (a teacher's own, say) still counts, with
`DEFAULT_WEIGHT`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    weight: int
    about: str
    """One line saying what the family checks, shown in the report."""

    @property
    def hint(self) -> str:
        """The section of ``hints.md`` for this family."""
        return f"hints.md › {self.name}"


DEFAULT_WEIGHT = 10

FAMILIES: tuple[Family, ...] = (
    Family("normal flow", 10, "one message, shown at once and confirmed"),
    Family("server-first arrival", 12, "the echo beats the ack"),
    Family("failure and rollback", 12, "refused and timed-out sends stay, as failed"),
    Family("concurrency", 12, "many sends in flight, answers out of order"),
    Family("duplicates", 12, "double echoes, history backfills, identical bodies"),
    Family("edge cases", 12, "late acks, retries, bad input, a frozen clock"),
    Family("scale", 10, "reconcile costs the same with 1k or 200k messages"),
    Family("all timelines", 10, "every ordering of a few sends, acks, echoes and failures"),
    Family("failover", 10, "a fallback transport never duplicates a message"),
)

_BY_NAME = {family.name: family for family in FAMILIES}


def family_named(name: str) -> Family:
    """The known family with this name, or a teacher's own with the default weight."""
    return _BY_NAME.get(name) or Family(name, DEFAULT_WEIGHT, "a scenario family of your own")


def family_order(name: str) -> int:
    """Known families in the design's order, then any others."""
    names = [family.name for family in FAMILIES]
    return names.index(name) if name in names else len(names)
