"""The sequence diagram as SVG: for the HTML report, and the picture in the README.

Hand-written SVG, every text escaped, nothing fetched: the drawing is one string
that works inline in a page and, with ``standalone=True``, as a file of its own.

What a reader (or a test) finds in it is what the diagram model says: a ``g.lane``
per party, a ``g.arrow`` per step between two parties and a ``g.mark`` per step in
one place, each with the step's number in ``data-step``; the broken step's row is
shaded, and ``g.screen`` beside it shows every screen at that step.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from html import escape

from chatkit.grading.diagram import Arrow, Diagram, Mark, Row

FONT = 13
CHAR = FONT * 0.6
"""The width of one character of the monospace font, for laying out text without measuring."""
ROW = 28
TOP = 58
"""Where the first row is drawn: under the lanes' names."""
LEFT = 44
"""Room for the step numbers."""
GAP = 140
"""Between two lanes."""
SCREEN_CHARS = 44
"""A screen's line is wrapped at this many characters."""
TEXT_CHARS = 48
"""A step's text beside its row is cut at this many characters."""
HEAD = 7

CSS = """
svg.story-diagram { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
svg.story-diagram .background { fill: #fff; }
svg.story-diagram .lane line { stroke: #cbd5e1; stroke-width: 2; }
svg.story-diagram .lane text { font-weight: bold; fill: #0f172a; }
svg.story-diagram .lane rect { fill: #f1f5f9; stroke: #cbd5e1; }
svg.story-diagram .step-text { fill: #334155; }
svg.story-diagram .number { fill: #64748b; text-anchor: end; }
svg.story-diagram .broken-row { fill: #fee2e2; }
svg.story-diagram .broken-mark { fill: #b91c1c; font-weight: bold; }
svg.story-diagram .arrow line, svg.story-diagram .arrow path { stroke: currentColor; stroke-width: 2; fill: none; }
svg.story-diagram .arrow .head { fill: currentColor; stroke: none; }
svg.story-diagram .arrow text, svg.story-diagram .mark text { fill: currentColor; }
svg.story-diagram .arrow.lost line { stroke-dasharray: 5 4; }
svg.story-diagram .mark rect { fill: currentColor; }
svg.story-diagram .kind-send, svg.story-diagram .kind-retry, svg.story-diagram .kind-post { color: #0e7490; }
svg.story-diagram .kind-ack { color: #15803d; }
svg.story-diagram .kind-echo, svg.story-diagram .kind-history { color: #1d4ed8; }
svg.story-diagram .kind-refuse, svg.story-diagram .kind-refused-input { color: #b91c1c; }
svg.story-diagram .kind-lost { color: #b45309; }
svg.story-diagram .kind-store { color: #a21caf; }
svg.story-diagram .kind-note { color: #475569; }
svg.story-diagram .screen rect { fill: #fff7ed; stroke: #b91c1c; }
svg.story-diagram .screen text { fill: #0f172a; }
svg.story-diagram .screen .rule { fill: #b91c1c; font-weight: bold; }
svg.story-diagram .screen .who { fill: #64748b; }
"""
"""The drawing's look: in the page's ``<style>`` once, or in a standalone file's own."""


def svg(
    diagram: Diagram,
    *,
    title: str,
    standalone: bool = False,
    texts: bool = False,
    callout: bool = True,
) -> str:
    """The whole drawing; ``title`` is what a screen reader says it shows.

    ``standalone`` makes it a file of its own (its namespace and style); ``texts`` writes
    each step's text beside its row, for a picture shown without the story's list;
    ``callout`` draws the broken step's rule and screens beside the lanes (a page that
    shows them in its own text, under the drawing, leaves them out: beside the lanes
    they make the drawing too wide for a phone).
    """
    xs = [LEFT + 60 + index * GAP for index in range(len(diagram.lanes))]
    lanes_width: float = xs[-1] + 90
    if texts:
        longest = max(len(_cut(row.step.text)) for row in diagram.rows)
        lanes_width += longest * CHAR + 16
    bottom = TOP + ROW * len(diagram.rows)
    screen, screen_width, screen_height = (
        _screen(diagram, lanes_width + 16) if callout else ([], 0.0, 0.0)
    )
    width = lanes_width + (screen_width + 32 if screen else 0)
    height = max(bottom + 8, screen_height + 16)
    head = [
        f'<svg class="story-diagram" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}"'
        f' height="{height:.0f}" role="img" aria-label="{escape(title)}"'
        + (' xmlns="http://www.w3.org/2000/svg">' if standalone else ">"),
        f"<title>{escape(title)}</title>",
    ]
    if standalone:
        head.append(f"<style>{CSS}</style>")
    body = [f'<rect class="background" width="{width:.0f}" height="{height:.0f}"/>']
    broken = diagram.broken
    if broken is not None:
        y = _y(diagram.rows.index(broken))
        body.append(
            f'<rect class="broken-row" x="0" y="{y - ROW / 2}" width="{lanes_width:.0f}" height="{ROW}"/>'
        )
    body += _lanes(diagram, xs, bottom)
    for index, row in enumerate(diagram.rows):
        body += _row(row, _y(index), diagram, xs)
        if texts:
            body.append(
                f'<text class="step-text" x="{xs[-1] + 90}" y="{_y(index) + 4.5}">'
                f"{escape(_cut(row.step.text))}</text>"
            )
    return "\n".join([*head, *body, *screen, "</svg>"])


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def _y(index: int) -> float:
    return TOP + ROW * index + ROW / 2


def _lanes(diagram: Diagram, xs: Sequence[int], bottom: int) -> Iterator[str]:
    for x, lane in zip(xs, diagram.lanes, strict=True):
        box = len(lane) * CHAR + 20
        yield (
            f'<g class="lane" data-party="{escape(lane)}">'
            f'<line x1="{x}" y1="34" x2="{x}" y2="{bottom}"/>'
            f'<rect x="{x - box / 2:.1f}" y="8" width="{box:.1f}" height="26" rx="6"/>'
            f'<text x="{x}" y="26" text-anchor="middle">{escape(lane)}</text></g>'
        )


def _row(row: Row, y: float, diagram: Diagram, xs: Sequence[int]) -> Iterator[str]:
    step = row.step
    yield f'<text class="number" x="{LEFT - 16}" y="{y + 4.5}">{step.number}</text>'
    if step.broke:
        yield f'<text class="broken-mark" x="{LEFT - 12}" y="{y + 4.5}">✗</text>'
    kind = f"kind-{step.kind.value.replace(' ', '-')}"
    if isinstance(row, Arrow):
        yield from _arrow(row, y, kind, diagram, xs)
    else:
        yield from _mark(row, y, kind, diagram, xs)


def _arrow(row: Arrow, y: float, kind: str, diagram: Diagram, xs: Sequence[int]) -> Iterator[str]:
    source = xs[diagram.column(row.source)]
    classes = f"arrow {kind}" + (" lost" if row.lost else "")
    yield (
        f'<g class="{classes}" data-step="{row.step.number}" data-source="{escape(row.source)}"'
        f' data-targets="{escape(" ".join(row.targets))}">'
    )
    ends: list[float] = []
    for target in row.targets:
        x = xs[diagram.column(target)]
        way = 1 if x > source else -1
        end = x - way * (GAP / 3 if row.lost else 3)
        ends.append(end)
        yield f'<line x1="{source + way * 3}" y1="{y}" x2="{end:.1f}" y2="{y}"/>'
        if row.lost:
            c = 5
            yield (
                f'<path d="M{end - c:.1f} {y - c} L{end + c:.1f} {y + c}'
                f' M{end - c:.1f} {y + c} L{end + c:.1f} {y - c}"/>'
            )
        else:
            tip, back = end, end - way * HEAD * 1.6
            yield (
                f'<path class="head" d="M{tip:.1f} {y} L{back:.1f} {y - HEAD / 1.4:.1f}'
                f' L{back:.1f} {y + HEAD / 1.4:.1f} Z"/>'
            )
    for side in ([e for e in ends if e < source][-1:], [e for e in ends if e > source][:1]):
        for end in side:
            yield (
                f'<text x="{(source + end) / 2:.1f}" y="{y - 5}" text-anchor="middle">'
                f"{escape(row.label)}</text>"
            )
    yield "</g>"


def _mark(row: Mark, y: float, kind: str, diagram: Diagram, xs: Sequence[int]) -> Iterator[str]:
    x = xs[diagram.column(row.lane)] if row.lane else xs[-1] + 16
    yield f'<g class="mark {kind}" data-step="{row.step.number}" data-lane="{escape(row.lane)}">'
    if row.lane:
        yield f'<rect x="{x - 6}" y="{y - 6}" width="12" height="12" rx="2"/>'
        yield f'<text x="{x + 12}" y="{y + 4.5}">{escape(row.label)}</text>'
    else:
        yield f'<text x="{x}" y="{y + 4.5}">{escape(row.step.text)}</text>'
    yield "</g>"


def _screen(diagram: Diagram, x: float) -> tuple[list[str], float, float]:
    """Beside the broken step: the rule, and what each user saw right after it.

    Returns the SVG lines, the box's width and where it ends.
    """
    broken = diagram.broken
    if broken is None:
        return [], 0, 0
    lines: list[tuple[str, str]] = [("rule", f"✗ {broken.step.broke} broke here")]
    for user, screen in broken.step.timelines.items():
        lines.append(("who", "you see" if user == "you" else f"{user} sees"))
        for shown in screen or ["(empty)"]:
            lines += [("", part) for part in textwrap.wrap(shown, SCREEN_CHARS) or [""]]
    width = max(len(text) * CHAR + (0 if style else 12) for style, text in lines) + 24
    height = len(lines) * 18 + 16
    top = max(_y(diagram.rows.index(broken)) - ROW / 2, 8)
    out = [
        '<g class="screen">',
        f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{height}" rx="6"/>',
    ]
    for index, (style, text) in enumerate(lines):
        indent = 0 if style else 12
        attr = f' class="{style}"' if style else ""
        out.append(
            f'<text{attr} x="{x + 12 + indent:.1f}" y="{top + 22 + index * 18:.1f}">'
            f"{escape(text)}</text>"
        )
    out.append("</g>")
    return out, width, top + height
