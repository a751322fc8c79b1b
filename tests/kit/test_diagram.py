"""The sequence diagram of a failure: one arrow per step between two parties, from real gradings.

Three known-wrong flows (``mistakes.py``) are graded in full; every failure's story is
drawn, and what is drawn is checked against the story itself, step by step: the parties
a step names are the lanes, a step from one party to another is one arrow from its
source to its target (to every member, for the whole chat), a store is a mark on the
server's lane, and the step that broke a rule is the one marked. The terminal's form is
checked on the same stories at 100 columns, and the SVG by parsing it.

The README's picture (``docs/diagram.svg``) is one of these drawings; a test grades the
flow again and compares. To write it again after a deliberate change::

    python tests/kit/test_diagram.py
"""

from __future__ import annotations

import io
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from mistakes import CLASS_TIMEOUT, MISTAKES, write_flow
from rich.console import Console

from chatkit.engine.story import SERVER, Kind, Step
from chatkit.grading.cli import build_parser
from chatkit.grading.diagram import Arrow, Mark, diagram
from chatkit.grading.diagram_svg import svg
from chatkit.grading.diagram_text import LaneDiagram
from chatkit.grading.report import failure_panel, humanize
from chatkit.grading.results import GradeReport, Outcome
from chatkit.grading.results import TestResult as Result
from chatkit.grading.runner import grade
from chatkit.kit_home import kit_root

pytestmark = pytest.mark.timeout(CLASS_TIMEOUT)

FLOWS = ("no_dedup", "status_regresses", "rollback_removes")
"""Between them: echoes to the whole chat, posts from other devices, refusals, lost acks."""
BETWEEN = {"send", "retry", "ack", "echo", "refuse", "lost", "post", "history"}
"""The kinds of step that go from one party to another, as the story model names them."""
PICTURE = kit_root() / "docs" / "diagram.svg"
PICTURE_FLOW = "status_regresses"
PICTURE_SCENARIO = "the echo wins and then the ack is lost"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module", params=FLOWS)
def graded(
    request: pytest.FixtureRequest, graded_mistake: Callable[[str], GradeReport]
) -> GradeReport:
    report: GradeReport = graded_mistake(request.param)
    return report


def stories(report: GradeReport) -> list[Result]:
    told = [r for r in report.results if r.outcome is not Outcome.PASSED and r.story]
    assert told, f"{report.target}: no failure told a story"
    return told


def test_every_step_is_one_row_and_each_arrow_is_its_step(graded: GradeReport) -> None:
    for result in stories(graded):
        drawn = diagram(result.story)
        assert drawn is not None, result.name
        parties = {p for s in result.story for p in (s.source, s.target, *s.timelines)}
        assert set(drawn.lanes) == (parties - {"", "the chat"}) | {SERVER}, result.name
        assert drawn.lanes.index(SERVER) == min(1, len(drawn.lanes) - 1), drawn.lanes
        assert "you" not in drawn.lanes or drawn.lanes[0] == "you", drawn.lanes
        assert [row.step.number for row in drawn.rows] == [s.number for s in result.story]
        for step, row in zip(result.story, drawn.rows, strict=True):
            if step.kind.value in BETWEEN:
                assert isinstance(row, Arrow), f"{result.name}, step {step.number}"
                assert row.source == step.source
                reached = list(step.timelines) if step.target == "the chat" else [step.target]
                assert sorted(row.targets) == sorted(set(reached) - {step.source})
                assert row.lost == (step.kind is Kind.LOST)
            else:
                assert isinstance(row, Mark), f"{result.name}, step {step.number}"
                assert row.lane == step.source
        arrows = [s for s in result.story if s.kind.value in BETWEEN]
        assert [a.step.number for a in drawn.arrows] == [s.number for s in arrows]
        broken = [s.number for s in result.story if s.broke]
        assert ([drawn.broken.step.number] if drawn.broken else []) == broken[:1]


def test_the_svg_draws_a_lane_per_party_and_an_arrow_per_step(graded: GradeReport) -> None:
    for result in stories(graded):
        drawn = diagram(result.story)
        assert drawn is not None
        root = ET.fromstring(svg(drawn, title=humanize(result.name), standalone=True))
        groups = [g for g in root.iter(f"{SVG}g")]
        lanes = [g.get("data-party") for g in groups if "lane" in g.get("class", "").split()]
        arrows = [g for g in groups if "arrow" in g.get("class", "").split()]
        assert lanes == list(drawn.lanes)
        steps = [s for s in result.story if s.kind.value in BETWEEN]
        assert [int(a.get("data-step", "0")) for a in arrows] == [s.number for s in steps]
        for arrow, step in zip(arrows, steps, strict=True):
            assert arrow.get("data-source") == step.source
            heads = [p for p in arrow.iter(f"{SVG}path") if p.get("class") == "head"]
            lines = list(arrow.iter(f"{SVG}line"))
            targets = (arrow.get("data-targets") or "").split()
            assert len(lines) == len(targets), f"{result.name}, step {step.number}"
            assert len(heads) == (0 if step.kind is Kind.LOST else len(targets))
        if any(s.broke for s in result.story):
            screen = next(g for g in groups if g.get("class") == "screen")
            text = " ".join(t.text or "" for t in screen.iter(f"{SVG}text"))
            assert next(s.broke for s in result.story if s.broke) in text


def test_the_terminal_draws_each_step_on_its_line_within_100_columns(graded: GradeReport) -> None:
    for result in stories(graded):
        drawn = diagram(result.story)
        assert drawn is not None
        console = Console(width=96, record=True, file=io.StringIO(), color_system=None)
        console.print(LaneDiagram(drawn))
        lines = console.export_text().splitlines()
        assert all(lane in lines[0] for lane in drawn.lanes), lines[0]
        numbered = [int(m.group(1)) for line in lines if (m := re.match(r"\s*(\d+)", line))]
        folded = [line for line in lines if "more" in line and "┊" in line]
        everything = [s.number for s in result.story]
        if folded:
            assert numbered == sorted(set(numbered)) and set(numbered) < set(everything)
        else:
            assert numbered == everything, "\n".join(lines)
        assert numbered[-1] == everything[-1]
        broken = next((s for s in result.story if s.broke), None)
        if broken is not None:
            assert f"✗ {broken.broke} broke here" in " ".join(lines)


def test_a_long_run_of_one_arrow_is_folded_to_its_ends() -> None:
    screens: dict[str, list[str]] = {"you": []}
    story = [Step(n, f"you send '{n}'", screens, Kind.SEND, "you", SERVER) for n in range(1, 51)]
    story.append(Step(51, "the ack for '1' reaches you", screens, Kind.ACK, SERVER, "you"))
    story[-1].broke = "rule 3, Exactly once"
    drawn = diagram(story)
    assert drawn is not None and len(drawn.arrows) == 51
    console = Console(width=96, record=True, file=io.StringIO(), color_system=None)
    console.print(LaneDiagram(drawn))
    text = console.export_text()
    assert "… 48 more sends …" in text
    assert len(text.splitlines()) < 10


def test_a_lost_ack_stops_short_and_a_refusal_arrives() -> None:
    screens: dict[str, list[str]] = {"you": ["'hi' failed"]}
    story = [
        Step(1, "you send 'hi'", screens, Kind.SEND, "you", SERVER),
        Step(2, "your client gives up waiting", screens, Kind.LOST, SERVER, "you"),
        Step(3, "the server refuses 'hi'", screens, Kind.REFUSE, SERVER, "you"),
    ]
    drawn = diagram(story)
    assert drawn is not None
    console = Console(width=96, record=True, file=io.StringIO(), color_system=None)
    console.print(LaneDiagram(drawn))
    lost, refused = console.export_text().splitlines()[2:4]
    assert "✕" in lost and "◀" not in lost and "lost" in lost
    assert "◀" in refused and "refused" in refused


def test_every_text_in_the_svg_is_escaped() -> None:
    nasty = "<script>alert('&')</script>"
    screens = {"you": [f"'{nasty}' pending", "[banner: a & b]"]}
    story = [
        Step(1, f"you send '{nasty}'", screens, Kind.SEND, "you", SERVER),
        Step(2, "the ack", screens, Kind.ACK, SERVER, "you", broke='rule "3" <&>'),
    ]
    drawn = diagram(story)
    assert drawn is not None
    picture = svg(drawn, title=nasty, standalone=True, texts=True)
    assert "<script" not in picture
    root = ET.fromstring(picture)
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert nasty in texts and 'rule "3" <&>' in texts


def test_no_diagram_tells_the_story_without_lanes(graded: GradeReport) -> None:
    result = stories(graded)[0]

    def panel(diagrams: bool) -> str:
        console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
        console.print(failure_panel(result, diagrams=diagrams))
        return console.export_text()

    assert re.search(r"you\s+server", panel(True))
    assert not re.search(r"you\s+server", panel(False))
    assert result.story[0].text in panel(False)
    assert build_parser().parse_args(["--no-diagram"]).diagrams is False
    assert build_parser().parse_args([]).diagrams is True


def readme_picture(folder: Path) -> str:
    """The README's diagram, drawn from a grading of the flow it shows."""
    flow = write_flow(MISTAKES[PICTURE_FLOW], folder)
    report = grade(str(flow), keyword=PICTURE_SCENARIO.replace(" ", "_"))
    found = [r for r in report.results if humanize(r.name) == PICTURE_SCENARIO]
    assert found, f"no scenario {PICTURE_SCENARIO!r} any more: pick another for the README"
    result = found[0]
    drawn = diagram(result.story)
    assert drawn is not None
    title = f"{result.family} › {PICTURE_SCENARIO}: {result.rule}"
    return svg(drawn, title=title, standalone=True, texts=True) + "\n"


def test_the_readme_picture_is_drawn_from_a_real_grading(tmp_path: Path) -> None:
    fresh = readme_picture(tmp_path)
    assert "rule 4" in fresh and 'class="arrow kind-lost lost"' in fresh
    assert PICTURE.read_text(encoding="utf-8") == fresh, (
        "docs/diagram.svg is not what the grader draws now: python tests/kit/test_diagram.py"
    )
    assert "docs/diagram.svg" in (kit_root() / "README.md").read_text(encoding="utf-8")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        PICTURE.write_text(readme_picture(Path(folder)), encoding="utf-8")
    sys.stdout.write(f"wrote {PICTURE.relative_to(kit_root())}\n")
