"""Hints on demand, one level at a time, from ``hints.md``.

``hints.md`` has a ``## topic`` section per function and per scenario family, each with
``### Hint N`` levels. Which level a learner has seen lives in a small JSON file beside
their target (``.chatkit-hints.json``, ignored by git), along with the topic of their
latest failure, so ``python grader.py hint`` with no topic knows where to help.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from chatkit.kit_home import kit_root

STATE_FILE = ".chatkit-hints.json"


def hints_file() -> Path:
    return kit_root() / "hints.md"


def parse_hints(text: str) -> dict[str, list[str]]:
    """``{topic: [hint 1, hint 2, …]}`` from the markdown."""
    topics: dict[str, list[str]] = {}
    topic: list[str] | None = None
    level: list[str] | None = None
    for line in text.splitlines():
        if match := re.match(r"^## (.+?)\s*$", line):
            topic = topics.setdefault(match[1].strip().lower(), [])
            level = None
        elif re.match(r"^### ", line) and topic is not None:
            level = []
            topic.append("")
        elif topic is not None and level is not None:
            topic[-1] = (topic[-1] + "\n" + line).strip("\n")
    return topics


@dataclass
class HintProgress:
    """What one learner has seen, stored beside their target."""

    path: Path
    shown: dict[str, int] = field(default_factory=dict)
    last_topic: str | None = None

    @classmethod
    def beside(cls, target: Path) -> HintProgress:
        path = target.parent / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(path)
        return cls(path, dict(data.get("shown", {})), data.get("last_topic"))

    def save(self) -> None:
        payload = {"shown": self.shown, "last_topic": self.last_topic}
        self.path.write_text(json.dumps(payload, indent=2) + "\n")

    def next_hint(self, topic: str, hints: list[str]) -> tuple[int, str] | None:
        """The next level of ``topic`` and its text, or None when all were shown."""
        level = self.shown.get(topic, 0)
        if level >= len(hints):
            return None
        self.shown[topic] = level + 1
        return level + 1, hints[level]
