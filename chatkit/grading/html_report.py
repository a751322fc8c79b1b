"""``--html report.html``: the whole report as one web page, each failure drawn.

A teacher publishes it from CI as an artifact; a learner opens it on a phone. So
the page is one file that needs nothing else: its style inline, no script, no font
or picture to fetch — its Content-Security-Policy forbids loading anything at all —
and every failure's diagram as inline SVG, made from the same model as the
terminal's (`chatkit.grading.diagram`). Every text from a grading is escaped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from html import escape
from pathlib import Path

from chatkit.engine.story import Step
from chatkit.grading.diagram import diagram
from chatkit.grading.diagram_svg import CSS as DIAGRAM_CSS
from chatkit.grading.diagram_svg import svg
from chatkit.grading.report import (
    MARKS,
    alike_title,
    humanize,
    load_error_title,
    next_step,
    pick_failures,
    result_note,
)
from chatkit.grading.results import FamilyResult, GradeReport, Location, Outcome, TestResult
from chatkit.grading.summary import function_order, hint_sections, next_fix, scenarios
from chatkit.target import display_path

PAGE_CSS = """
:root { color-scheme: light; --red: #b91c1c; --green: #15803d; --dim: #64748b; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #0f172a; background: #f8fafc; overflow-wrap: anywhere; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .25rem; }
h3 { font-size: 1rem; margin: 0 0 .5rem; overflow-wrap: anywhere; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: .9em; }
pre { white-space: pre-wrap; margin: .25rem 0; }
pre.code { background: #f1f5f9; border-radius: .25rem; padding: .4rem .6rem; }
.score { display: flex; align-items: center; gap: 1rem; flex-wrap: wrap; }
.score strong { font-size: 2rem; }
.bar { flex: 1 1 12rem; height: .75rem; background: #e2e8f0; border-radius: 1rem; overflow: hidden; }
.bar span { display: block; height: 100%; background: var(--colour); }
.dim { color: var(--dim); }
table.family { border-collapse: collapse; width: 100%; }
table.family td { padding: .2rem .4rem; vertical-align: top; border-top: 1px solid #e2e8f0;
  overflow-wrap: anywhere; }
table.family td.mark { width: 1.5rem; text-align: center; font-weight: bold; }
.passed { color: var(--green); } .failed, .crashed { color: var(--red); }
.timed-out { color: #b45309; } .not-written { color: var(--dim); }
.box { background: #fff; border: 1px solid #cbd5e1; border-left: 4px solid var(--red);
  border-radius: .5rem; padding: 1rem; margin: 1rem 0; }
.box.info { border-left-color: #2563eb; }
.verdict { font-weight: bold; color: var(--red); }
ol.story { padding-left: 2rem; }
ol.story li { margin: .4rem 0; }
ol.story li.broke { background: #fee2e2; border-radius: .25rem; padding: .1rem .3rem; }
.screen { color: var(--dim); overflow-wrap: anywhere; }
.printed { color: #a16207; }
figure.diagram { margin: 1rem 0; }
figure.diagram .scroll { overflow-x: auto; border: 1px solid #e2e8f0; border-radius: .5rem;
  background: #fff; }
figure.diagram svg { display: block; max-width: 100%; height: auto; }
.callout { background: #fff7ed; border: 1px solid var(--red); border-radius: .5rem;
  padding: .5rem .75rem; margin-top: .5rem; }
.callout ul { margin: .1rem 0 .4rem; padding-left: 1.25rem; }
figcaption { font-size: .85rem; color: var(--dim); }
table.compare { border-collapse: collapse; margin: .5rem 0; }
table.compare th, table.compare td { text-align: left; padding: .1rem .75rem .1rem 0;
  vertical-align: top; overflow-wrap: anywhere; }
table.compare td.expected { color: var(--green); } table.compare td.actual { color: var(--red); }
"""

POLICY = "default-src 'none'; style-src 'unsafe-inline'"
"""Nothing may load: the page is whole on its own, and stays whole as a CI artifact."""


def write_html(report: GradeReport, path: Path) -> None:
    path.write_text(html_page(report), encoding="utf-8")


def html_page(report: GradeReport) -> str:
    """The page: score, where to start, a table per family, then every failure's story and
    diagram. A page is read from the top, so "not written yet" comes before the tables."""
    title = f"Chat Message Flow · {report.score}/100"
    body = [*_header(report)]
    if report.load_error is not None:
        body += _load_error(report)
    else:
        body += _not_written(report)
        body += _families(report.families)
        alike, told = pick_failures(report)
        failures = [(group[0], group) for group in alike] + [(result, [result]) for result in told]
        if failures:
            body.append(f"<h2>What went wrong ({len(failures)})</h2>")
        for result, group in failures:
            body += _failure(result, group)
    body.append(
        f'<p class="dim">{escape(_footer(report))}</p>'
        if report.load_error is None
        else '<p class="dim">No scenario ran. Fix this first, then run the grader again.</p>'
    )
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{PAGE_CSS}{DIAGRAM_CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            *body,
            "</main>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _header(report: GradeReport) -> Iterator[str]:
    score = report.score
    colour = "#15803d" if score == 100 else "#ca8a04" if score >= 50 else "#b91c1c"
    yield f"<h1>Chat Message Flow · grading <code>{escape(display_path(report.path))}</code></h1>"
    yield (
        f'<div class="score"><strong style="color:{colour}">{score} / 100</strong>'
        f'<div class="bar" role="img" aria-label="{score} out of 100">'
        f'<span style="width:{score}%;--colour:{colour}"></span></div></div>'
    )
    if report.results:
        yield f'<p class="dim">{report.passed} of {scenarios(len(report.results))} pass</p>'


def _families(families: Sequence[FamilyResult]) -> Iterator[str]:
    for family in families:
        timed_out = family.count(Outcome.TIMED_OUT)
        extra = f" · {timed_out} timed out" if timed_out else ""
        yield (
            f"<h2>{escape(family.family.name)} — {family.passed}/{family.total} pass{extra}"
            f' <span class="dim">· weight {family.family.weight}</span></h2>'
        )
        if family.family.about:
            yield f'<p class="dim">{escape(family.family.about)}</p>'
        yield '<table class="family">'
        for result in family.results:
            mark, _ = MARKS[result.outcome]
            name = escape(humanize(result.name))
            if result.outcome not in (Outcome.PASSED, Outcome.NOT_WRITTEN):
                name = f'<a href="#{_anchor(result)}">{name}</a>'
            yield (
                f'<tr><td class="mark {_css(result.outcome)}">{mark}</td><td>{name}</td>'
                f'<td class="dim">{escape(result_note(result))}</td></tr>'
            )
        yield "</table>"


def _not_written(report: GradeReport) -> Iterator[str]:
    """Where to start, naming the same function as the terminal's report and ``hint``."""
    fix = next_fix(report)
    if fix is None or not fix.not_written or fix.function is None:
        return
    stopped = [r for r in report.results if r.outcome is Outcome.NOT_WRITTEN]
    stubs = sorted({r.function or "?" for r in stopped}, key=function_order)
    where = fix.result.location.file if fix.result.location else report.path
    yield (
        '<section class="box info"><h3>Not written yet</h3>'
        f"<p>{scenarios(len(stopped))} stop at a function that still raises "
        f"NotImplementedError: <strong>{escape(', '.join(stubs))}</strong>.</p>"
        f"<p><strong>Start here:</strong> open <code>{escape(where)}</code> and write "
        f"<strong>{escape(fix.function)}</strong>. Its docstring says what it must do; "
        f"hints.md › {escape(fix.function)} has a nudge if you are stuck. Then run "
        "<code>python grader.py</code> again.</p></section>"
    )


def _failure(result: TestResult, group: Sequence[TestResult]) -> Iterator[str]:
    mark, _ = MARKS[result.outcome]
    several = len(group) > 1
    title = alike_title(group) if several else f"{result.family} › {humanize(result.name)}"
    anchors = "".join(f'<span id="{_anchor(r)}"></span>' for r in group[1:])
    yield (
        f'<article class="box failure" id="{_anchor(result)}">{anchors}'
        f'<h3><span class="{_css(result.outcome)}">{mark}</span> {escape(title)}</h3>'
    )
    if several:
        names = "".join(f"<li>{escape(f'{r.family} › {humanize(r.name)}')}</li>" for r in group)
        what = "hang" if result.outcome is Outcome.TIMED_OUT else "error"
        yield (
            f"<details><summary><strong>{scenarios(len(group))} stop at the same {what}</strong>"
            f"</summary><ul>{names}</ul></details>"
        )
        first = f"{result.family} › {humanize(result.name)}"
        yield f'<p class="dim">Fix it once. What happened in the first, {escape(first)}:</p>'
    if result.about:
        yield f"<p><em>{escape(result.about)}</em></p>"
    if result.story:
        yield from _story(result)
    yield from _verdict(result)
    if result.expected is not None or result.actual is not None:
        yield from _expected_actual(result.expected, result.actual)
    yield f'<p class="dim">Read: {escape(" · ".join(hint_sections(result)))}</p>'
    yield "</article>"


def _story(result: TestResult) -> Iterator[str]:
    yield '<ol class="story">'
    for step in result.story:
        broke = ' class="broke"' if step.broke else ""
        yield f'<li value="{step.number}"{broke}><strong>{escape(step.text)}</strong>'
        for user, screen in step.timelines.items():
            who = "you see" if user == "you" else f"{user} sees"
            shown = " · ".join(screen) if screen else "(empty)"
            yield f'<div class="screen">{escape(who)}: <span class="mono">{escape(shown)}</span></div>'
        if step.printed:
            yield f'<pre class="printed">your code printed: {escape(step.printed.rstrip())}</pre>'
        if step.broke:
            yield f'<div class="verdict">✗ {escape(step.broke)} broke here</div>'
        yield "</li>"
    yield "</ol>"
    drawn = diagram(result.story)
    if drawn is not None:
        name = humanize(result.name)
        picture = svg(drawn, title=f"What happened in {name}, drawn as lanes", callout=False)
        yield (
            f'<figure class="diagram"><div class="scroll">{picture}</div>'
            "<figcaption>Each lane is one party; each arrow, a step of the story above."
            "</figcaption>"
        )
        if drawn.broken is not None:
            yield from _callout(drawn.broken.step)
        yield "</figure>"


def _callout(step: Step) -> Iterator[str]:
    """Under the drawing, the step that broke a rule and every screen right after it: text
    that wraps, where beside the lanes it would run off a phone's screen."""
    yield f'<div class="callout"><div class="verdict">✗ step {step.number}: {escape(step.broke or "")} broke here</div>'
    for user, screen in step.timelines.items():
        who = "you see" if user == "you" else f"{user} sees"
        rows = "".join(f"<li>{escape(row)}</li>" for row in screen) or "<li>(empty)</li>"
        yield f'<div class="screen">{escape(who)}:</div><ul class="mono">{rows}</ul>'
    yield "</div>"


def _verdict(result: TestResult) -> Iterator[str]:
    if result.rule:
        lead = f"Broke {result.rule}: "
    elif result.outcome is Outcome.TIMED_OUT:
        lead = "Timed out: "
    else:
        lead = f"{result.error_type or 'Failed'}: "
    if not (result.outcome is Outcome.CRASHED and result.location is not None):
        yield f'<p><span class="verdict">{escape(lead)}</span>{escape(result.message)}</p>'
    if result.location is not None:
        crashed = result.outcome is Outcome.CRASHED
        yield from _location(
            result.location, result.error_type if crashed else None, result.message
        )


def _location(location: Location, error_type: str | None, message: str) -> Iterator[str]:
    yield (
        f"<p><strong>{escape(location.file)}, line {location.line}, in "
        f"{escape(location.function)}</strong></p>"
    )
    if location.code:
        yield f'<pre class="code">{escape(location.code)}</pre>'
    if error_type:
        yield f'<p><span class="verdict">{escape(error_type)}:</span> {escape(message)}</p>'


def _expected_actual(expected: list[str] | None, actual: list[str] | None) -> Iterator[str]:
    shown = actual or ["(nothing)"]
    head = ("<th>expected</th>" if expected is not None else "") + "<th>your code shows</th>"
    yield f'<table class="compare"><tr>{head}</tr>'
    for index in range(max(len(expected or []), len(shown))):
        cells = ""
        if expected is not None:
            cells += f'<td class="expected mono">{_line(expected, index)}</td>'
        cells += f'<td class="actual mono">{_line(shown, index)}</td>'
        yield f"<tr>{cells}</tr>"
    yield "</table>"


def _line(lines: Sequence[str], index: int) -> str:
    return escape(lines[index]) if index < len(lines) else ""


def _load_error(report: GradeReport) -> Iterator[str]:
    error = report.load_error
    assert error is not None
    yield f'<section class="box"><h3>{escape(load_error_title(error))}</h3>'
    if error.location is not None:
        yield from _location(error.location, error.error_type, error.message)
    else:
        lead = f"{error.error_type}: " if error.error_type else ""
        yield f"<p>{escape(lead + error.message)}</p>"
    yield "</section>"


def _footer(report: GradeReport) -> str:
    """The terminal's last line: what to do now, naming the same function."""
    if not report.results:
        return "No scenario was graded: the selection names none."
    return next_step(report, next_fix(report), where="")


def _anchor(result: TestResult) -> str:
    """An id for a failure's story, from its node id (letters, digits and dashes)."""
    return "f-" + "".join(c if c.isalnum() else "-" for c in result.nodeid)


def _css(outcome: Outcome) -> str:
    return outcome.value.replace(" ", "-")
