"""The sequence diagram in the terminal: a compact lane drawing under a failure's story.

One text line per step, numbered as the story is, so a learner reads the story above
and sees the race below::

        you             server
    1    │───── send ─────▶│
    2    │                 ■ stored
    3    │◀───── echo ─────│
    4✗   │     ✕╌╌ lost ╌╌╌│           ✗ rule 4, Monotonic status broke here
         │                 │             you see 'hi' failed (no answer from the server…

The lanes get closer on a narrow terminal, and a long run of the same arrow (fifty
sends in a row) is folded to its first and last, so the drawing stays a glance.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from chatkit.engine.story import Kind
from chatkit.grading.diagram import Arrow, Diagram, Mark, Row

WIDEST_GAP = 18
NARROWEST_GAP = 12
"""Columns between two lanes: wide enough for the longest label on its arrow."""
NOTE_WIDTH = 34
"""What the lanes leave, at least, for the broken rule and the screens beside them."""
BESIDE_WIDTH = 44
"""With less room than this beside the lanes, the rule and the screens go under them."""
FOLD_AT = 5
"""A run of this many identical rows (or more) is folded to its first and last."""

STYLES = {
    Kind.SEND: "cyan",
    Kind.RETRY: "cyan",
    Kind.POST: "cyan",
    Kind.ACK: "green",
    Kind.ECHO: "blue",
    Kind.HISTORY: "blue",
    Kind.REFUSE: "red",
    Kind.LOST: "yellow",
    Kind.STORE: "magenta",
    Kind.REFUSED_INPUT: "red",
    Kind.NOTE: "dim",
}
MARKS = {Kind.STORE: "■", Kind.REFUSED_INPUT: "✕"}


@dataclass(frozen=True, slots=True)
class _Fold:
    """Rows left out of a long run: how many, and what they were."""

    count: int
    what: str


PLURALS = {
    "send": "sends",
    "retry": "retries",
    "stored": "stores",
    "ack": "acks",
    "echo": "echoes",
    "refused": "refusals",
    "lost": "lost acks",
    "post": "posts",
    "history": "reloads",
    "not sent": "refused bodies",
    "note": "notes",
}


class LaneDiagram:
    """A rich renderable: ``console.print(LaneDiagram(diagram))``."""

    def __init__(self, diagram: Diagram) -> None:
        self.diagram = diagram

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lanes = self.diagram.lanes
        number_width = len(str(self.diagram.rows[-1].step.number)) + 1
        edge = number_width + max(len(lanes[0]) // 2, 3)
        spare = options.max_width - edge - NOTE_WIDTH
        gap = max(NARROWEST_GAP, min(WIDEST_GAP, spare // max(len(lanes) - 1, 1)))
        columns = [edge + index * gap for index in range(len(lanes))]
        width = columns[-1] + len(" ■ stored ")
        beside = options.max_width - width >= BESIDE_WIDTH
        yield _header(lanes, columns, width)
        for row in _folded(self.diagram.rows):
            line = _Line(columns, width)
            if isinstance(row, _Fold):
                yield line.fold(row)
                continue
            line.number(row.step.number, number_width, broken=bool(row.step.broke))
            if isinstance(row, Arrow):
                targets = [columns[self.diagram.column(target)] for target in row.targets]
                line.arrow(columns[self.diagram.column(row.source)], targets, row)
            elif row.lane:
                line.mark(columns[self.diagram.column(row.lane)], row)
            is_note = isinstance(row, Mark) and not row.lane
            drawn = line.text(full=is_note)
            if is_note:  # what happened, written after the lanes
                drawn.append(row.step.text, style="dim italic")
            if not row.step.broke:
                yield drawn
                continue
            notes = _broken_notes(row, options.max_width - (width if beside else edge))
            if not beside or is_note:
                yield drawn
                yield from (Text(" " * edge).append_text(part) for part in notes)
                continue
            yield line.text(full=True).append_text(notes[0])
            for part in notes[1:]:
                yield _Line(columns, width).text(full=True).append_text(part)


def _header(lanes: Sequence[str], columns: Sequence[int], width: int) -> Text:
    cells = [" "] * width
    for column, lane in zip(columns, lanes, strict=True):
        start = max(column - len(lane) // 2, 0)
        cells[start : start + len(lane)] = lane
    return Text("".join(cells).rstrip(), style="bold")


class _Line:
    """One line of single-width cells: the lanes, then what a row draws over them."""

    def __init__(self, columns: Sequence[int], width: int) -> None:
        self.columns = columns
        self.chars = [" "] * width
        self.styles: list[str] = ["dim"] * width
        for column in columns:
            self.chars[column] = "│"

    def put(self, cell: int, char: str, style: str) -> None:
        if 0 <= cell < len(self.chars):
            self.chars[cell] = char
            self.styles[cell] = style

    def write(self, start: int, words: str, style: str) -> None:
        for offset, char in enumerate(words):
            self.put(start + offset, char, style)

    def number(self, number: int, width: int, *, broken: bool) -> None:
        self.write(0, f"{number}".rjust(width - 1), "bold red" if broken else "dim")
        if broken:
            self.put(width - 1, "✗", "bold red")

    def arrow(self, source: int, targets: Sequence[int], row: Arrow) -> None:
        """A line from ``source`` to each target, a head at each; a lost one stops short, cut
        by a ✕. A step to the whole chat fans out both ways, labelled once on each side."""
        style = STYLES[row.step.kind]
        ends = [self._end(source, target, lost=row.lost) for target in targets]
        for end in ends:
            way = 1 if end > source else -1
            for cell in range(source + way, end, way):
                self.put(cell, "┼" if cell in self.columns else "╌" if row.lost else "─", style)
        for end in ends:
            self.put(end, "✕" if row.lost else "▶" if end > source else "◀", style)
        label = f" {row.label} "
        for side in ([e for e in ends if e < source][-1:], [e for e in ends if e > source][:1]):
            for end in side:
                low, high = sorted((source, end))
                if high - low - 1 >= len(label):
                    self.write(low + 1 + (high - low - 1 - len(label)) // 2, label, style)

    def _end(self, source: int, target: int, *, lost: bool) -> int:
        """Where the line toward ``target`` ends: beside its lane, or a third short when lost."""
        way = 1 if target > source else -1
        return target - way * (max(abs(target - source) // 3, 2) if lost else 1)

    def mark(self, column: int, row: Mark) -> None:
        style = STYLES[row.step.kind]
        self.put(column, MARKS.get(row.step.kind, "·"), style)
        self.write(column + 1, f" {row.label}", style)

    def fold(self, fold: _Fold) -> Text:
        for column in self.columns:
            self.chars[column] = "┊"
        text = self.text(full=True)
        return text.append(f"… {fold.count:,} more {fold.what} …", style="dim italic")

    def text(self, *, full: bool = False) -> Text:
        """The line; cut after its last drawn cell unless ``full``, for a note beside it."""
        text = Text()
        for char, style in zip(self.chars, self.styles, strict=True):
            text.append(char, style)
        if not full:
            text.rstrip()
        return text


def _folded(rows: Sequence[Row]) -> Iterator[Row | _Fold]:
    """The rows, a run of ``FOLD_AT`` or more of the same arrow or mark folded to its ends."""
    index = 0
    while index < len(rows):
        end = index
        while end + 1 < len(rows) and _same(rows[end + 1], rows[index]):
            end += 1
        if end - index + 1 >= FOLD_AT:
            yield rows[index]
            yield _Fold(end - index - 1, PLURALS[rows[index].label])
            yield rows[end]
        else:
            yield from rows[index : end + 1]
        index = end + 1


def _same(row: Row, other: Row) -> bool:
    if row.step.broke or other.step.broke or row.step.kind is not other.step.kind:
        return False
    if isinstance(row, Arrow) and isinstance(other, Arrow):
        return (row.source, row.targets) == (other.source, other.targets)
    return isinstance(row, Mark) and isinstance(other, Mark) and row.lane == other.lane


def _broken_notes(row: Row, width: int) -> list[Text]:
    """Beside the broken step: the rule, then each screen right after the step."""
    notes = [Text(f"  ✗ {row.step.broke} broke here", style="bold red")]
    for user, screen in row.step.timelines.items():
        who = "you see " if user == "you" else f"{user} sees "
        shown = " · ".join(screen) if screen else "(empty)"
        for number, part in enumerate(textwrap.wrap(who + shown, width - 6)):
            notes.append(Text(("    " if number == 0 else "      ") + part, style="dim"))
    return notes
