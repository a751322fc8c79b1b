"""``--html``: the report as one web page, opened in a real headless Chromium.

The page must need nothing but itself (a CI artifact opened years later, a phone on a
train), draw every failure's diagram — a lane per party and an arrow per step between
two parties, counted here from the story, not from the drawing code — and open with
nothing in the browser's console: no error, no blocked load, no exception. A page made
to misbehave is opened first, so "nothing in the console" is known to be a real check.

Like the other grader tests, these never grade ``starter-code/`` (the learner's
working copy): the not-written stub from ``test_grader.py`` is what the shipped
starter is.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import INSTALL, PHONE, Browser, chromium
from grading_support import crash, run_grader, write_stub

from chatkit.engine.story import SERVER
from chatkit.grading.html_report import html_page
from chatkit.grading.results import GradeReport, Outcome
from chatkit.grading.results import TestResult as Result

pytestmark = pytest.mark.timeout(180)

BETWEEN = {"send", "retry", "ack", "echo", "refuse", "lost", "post", "history"}
"""The kinds of step that go from one party to another, as the story model names them."""

DRAWN = """JSON.stringify([...document.querySelectorAll('article.failure')].map(article => {
  const svg = article.querySelector('svg.story-diagram');
  const size = g => {
    const box = g.getBoundingClientRect(), line = g.querySelector('line');
    const look = line && getComputedStyle(line);
    return box.width > 0 && box.height > 0 && line !== null && look.stroke !== 'none'
      && look.visibility === 'visible' && Number(look.opacity) > 0;
  };
  return {
    id: article.id,
    lanes: svg ? [...svg.querySelectorAll('g.lane')].filter(size).map(g => g.dataset.party) : [],
    arrows: svg ? [...svg.querySelectorAll('g.arrow')].filter(size).map(g => +g.dataset.step) : [],
  };
}))"""
"""Per failure, its diagram's lanes and arrows that the browser actually drew (a box of
some size on the page, a line with a visible stroke), in document order."""

FITS = """JSON.stringify({page: document.documentElement.scrollWidth, screen: innerWidth,
  text: parseFloat(getComputedStyle(document.body).fontSize),
  families: document.querySelectorAll('table.family').length,
  score: document.querySelector('.score strong').textContent})"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    executable = chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing in CI: .ci/run installs it ({INSTALL})")
        pytest.skip(f"these tests open the report in Chromium: {INSTALL}")
    with Browser(executable, tmp_path_factory.mktemp("profile")) as opened:
        yield opened


def test_a_page_with_errors_is_caught(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        '<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        '<p>hi</p><img src="https://example.invalid/x.png"><script>nope()</script>'
    )
    problems = browser.open(page.as_uri()).problems()
    assert any("example.invalid" in problem for problem in problems), problems
    assert any("inline script" in problem for problem in problems), problems


def test_the_starters_report_opens_cleanly_beside_json_and_junit(
    browser: Browser, tmp_path: Path
) -> None:
    stub = write_stub(tmp_path / "stub")
    out = tmp_path / "report.html"
    json_out, junit_out = tmp_path / "results.json", tmp_path / "results.xml"
    graded = run_grader(
        "--target",
        str(stub),
        "--html",
        str(out),
        "--json",
        str(json_out),
        "--junit",
        str(junit_out),
    )
    assert graded.returncode == 1, graded.stdout + graded.stderr
    assert json_out.stat().st_size and junit_out.stat().st_size
    page = browser.open(out.as_uri())
    assert page.problems() == []
    fits = _json(page.evaluate(FITS))
    families = {test["task_id"] for test in json.loads(json_out.read_text())["tests"]}
    assert (fits["score"], fits["families"]) == ("0 / 100", len(families))
    assert fits["page"] <= fits["screen"], "the page scrolls sideways on a phone"
    assert fits["text"] >= 14
    assert "Not written yet" in page.evaluate("document.body.innerText")
    shot = page.screenshot(tmp_path / "starter.png", "main")
    assert shot.read_bytes().startswith(b"\x89PNG")


@pytest.fixture(scope="module")
def wrong(graded_mistake: Callable[[str], GradeReport]) -> GradeReport:
    report: GradeReport = graded_mistake("no_dedup")
    return report


def test_every_failure_is_drawn_with_its_lanes_and_arrows(
    browser: Browser, wrong: GradeReport, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    out.write_text(html_page(wrong), encoding="utf-8")
    page = browser.open(out.as_uri())
    assert page.problems() == []
    drawn = {figure["id"]: figure for figure in _json(page.evaluate(DRAWN))}
    failing = [r for r in wrong.results if r.outcome not in (Outcome.PASSED, Outcome.NOT_WRITTEN)]
    ids = set(
        _json(
            page.evaluate("JSON.stringify([...document.querySelectorAll('[id]')].map(e => e.id))")
        )
    )
    assert {_anchor(r) for r in failing} <= ids, "every failure has its story on the page"
    told = [r for r in failing if r.story]
    assert len(told) >= 20
    for result in told:
        figure = drawn[_anchor(result)]
        assert figure["lanes"] == _lanes(result), result.name
        arrows = [s.number for s in result.story if s.kind.value in BETWEEN]
        assert figure["arrows"] == arrows, result.name
    fits = _json(page.evaluate(FITS))
    assert fits["page"] <= fits["screen"], "the page scrolls sideways on a phone"
    shot = page.screenshot(tmp_path / "diagram.png", "article.failure figure")
    assert shot.read_bytes().startswith(b"\x89PNG")


FIGURES = """JSON.stringify([...document.querySelectorAll('figure.diagram')].map(figure => {
  const svg = figure.querySelector('svg'), callout = figure.querySelector('.callout');
  const box = svg.getBoundingClientRect();
  return {right: Math.max(box.right, callout ? callout.getBoundingClientRect().right : 0),
    scale: box.width / svg.viewBox.baseVal.width, callout: callout !== null,
    broke: svg.querySelector('.broken-row') !== null, lanes: svg.querySelectorAll('g.lane').length};
}))"""
"""Per diagram on the page: how far right it and its callout reach, and how far it shrank."""


def test_every_diagram_and_its_callout_fit_a_phone(
    browser: Browser, wrong: GradeReport, tmp_path: Path
) -> None:
    """On a 400 px phone the callout beside the lanes once ran off the screen, unseen."""
    out = tmp_path / "report.html"
    out.write_text(html_page(wrong), encoding="utf-8")
    page = browser.open(out.as_uri(), {**PHONE, "width": 400})
    figures = _json(page.evaluate(FIGURES))
    width = page.evaluate("innerWidth")
    assert figures and width == 400
    for figure in figures:
        assert figure["right"] <= width, "a diagram or its callout runs off the screen"
        assert figure["scale"] >= 0.5, f"a diagram shrunk past reading: {figures}"
        assert figure["callout"] == figure["broke"], "the broken step's screens are under it"
    two_lanes = [figure for figure in figures if figure["lanes"] == 2]
    assert two_lanes and all(figure["scale"] >= 0.9 for figure in two_lanes), "you and the server"


def test_the_page_needs_nothing_but_itself(wrong: GradeReport) -> None:
    page = html_page(wrong)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(|src=", page, re.IGNORECASE)
    assert not re.search(r"""href=["'](?!#)""", page), "every link stays on the page"


def test_the_same_error_in_many_scenarios_is_told_once() -> None:
    crashes = [
        crash("normal flow", "test_a"),
        crash("duplicates", "test_b"),
        crash("scale", "test_c"),
    ]
    page = html_page(GradeReport("mine", "mine/flow.py", crashes))
    assert page.count('<article class="box failure"') == 1
    assert "the same error in 3 scenarios: NameError in send" in page
    assert "What happened in the first, normal flow › a:" in page
    assert re.search(r"<details><summary>.*3 scenarios stop at the same error", page)
    for result in crashes:
        assert f'id="{_anchor(result)}"' in page and f'href="#{_anchor(result)}"' in page


def _lanes(result: Result) -> list[str]:
    """The parties of a story, as the lanes must show them: you, the server, the others."""
    users: list[str] = []
    for step in result.story:
        for party in (step.source, step.target, *step.timelines):
            if party not in ("", SERVER, "the chat", *users):
                users.append(party)
    others = [user for user in users if user != "you"]
    return ["you", SERVER, *others] if "you" in users else [*others[:1], SERVER, *others[1:]]


def _anchor(result: Result) -> str:
    return "f-" + "".join(c if c.isalnum() else "-" for c in result.nodeid)


def _json(text: str) -> Any:
    return json.loads(text)
