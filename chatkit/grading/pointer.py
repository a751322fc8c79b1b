"""A line to look at when no line of the learner's made the change that broke a rule.

The blame (`chatkit.blame`) names the line that last changed what a broken rule is about.
Some failures have no such line: a row that was never added, a row that was removed, a
send that awaited too soon, an id made the same on two phones. A story that names a
function but no line sent learners hunting, so here the named function is read (parsed,
never imported) for the line the broken rule is about: the first ``await`` for an
instant send, the ``return`` for the row send hands back, the ``remove`` that dropped a
row, the loop that walks the timeline.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from chatkit.engine.rules import Rule
from chatkit.grading.results import Location
from chatkit.target import display_path

Finder = Callable[[ast.AST], bool]


def _calls(*names: str) -> Finder:
    """A call of a function or method with one of ``names`` (``state.add(…)``, ``check_body(…)``)."""

    def found(node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in names

    return found


def _keyword(*names: str) -> Finder:
    return lambda node: isinstance(node, ast.keyword) and node.arg in names


def _name(*names: str) -> Finder:
    return lambda node: isinstance(node, ast.Name) and node.id in names


def _attribute(*names: str) -> Finder:
    return lambda node: isinstance(node, ast.Attribute) and node.attr in names


def _kinds(*kinds: type[ast.AST]) -> Finder:
    return lambda node: isinstance(node, kinds)


LOOPS = _kinds(ast.For, ast.AsyncFor, ast.While, ast.comprehension)
RETURNS = _kinds(ast.Return)
"""What send hands back is its last ``return``: of these, the last is the one."""
REMOVES = _calls("remove", "pop", "clear", "discard")

WHERE: dict[Rule, tuple[Finder, ...]] = {
    Rule.INSTANT: (_kinds(ast.Await), _keyword("created_at")),
    Rule.IDENTITY: (RETURNS, _keyword("client_id")),
    Rule.EXACTLY_ONCE: (_calls("add", "append", "insert"), LOOPS),
    Rule.MONOTONIC: (_attribute("status"), _calls("confirm")),
    Rule.SERVER_TRUTH: (_calls("confirm", "sort", "sorted"), _attribute("seq", "server_id")),
    Rule.KEEP_WORDS: (REMOVES, _kinds(ast.Delete), _attribute("status")),
    Rule.LOADING_AND_ERRORS: (_attribute("error", "in_flight"),),
    Rule.IDEMPOTENT_RETRY: (_keyword("client_id"), _attribute("client_id")),
    Rule.OTHERS: (_calls("add", "from_server"),),
    Rule.UNIQUE_IDS: (_keyword("client_id"), _calls("Message")),
    Rule.BAD_INPUT: (_calls("check_body"),),
    Rule.RESYNC: (_calls("add", "remove", "clear"),),
    Rule.NO_TEXT_MATCHING: (_attribute("body"), _calls("add")),
    Rule.BOOKKEEPING: (_attribute("in_flight"),),
    Rule.FINISHES: (_kinds(ast.Await),),
    Rule.FAST: (LOOPS, _calls("remove", "index", "insert", "sort", "sorted")),
}
"""Per rule, what to look for in the named function, best first; else its first line."""


KEPT_IN = re.compile(r"your module's (\w+) \(")
"""How scale's check of what a flow keeps names the module-level name (`_name` finds it)."""


GROWS = frozenset({"add", "append", "appendleft", "extend", "insert", "update", "setdefault"})
"""Methods that make a container hold more."""
FLOW_FUNCTIONS = ("send", "reconcile", "rollback")


def keeping_function(file: Path, detail: str) -> str | None:
    """For rule 14, the flow function that adds to the module-level name the check named
    (``NOTIFIED.add(…)``, ``SEEN[key] = …``): where the keeping happens, wherever it is
    let go. None when none of them does, or the file cannot be read."""
    kept = KEPT_IN.search(detail)
    if kept is None:
        return None
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    holder = _name(kept[1])
    for name in FLOW_FUNCTIONS:
        for node in ast.walk(functions[name]) if name in functions else ():
            grows = (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in GROWS
                and holder(node.func.value)
            )
            stores = isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
            if grows or (stores and holder(node.value)):  # type: ignore[attr-defined]
                return name
    return None


def likely_line(
    file: Path, function: str, rule: Rule | None, detail: str = "", *, at_return: bool = False
) -> Location | None:
    """The line of ``function`` in ``file`` that ``rule`` is most about, or its first line.

    ``detail`` is what the check said: rule 1 is about when a row shows, or, when it says
    a row was "created at" the wrong time, about where ``created_at`` comes from.
    ``at_return``: the fault is in what the function returned, at its last ``return``.
    None when the file cannot be read or does not define the function (it may come from
    another module).
    """
    try:
        source = file.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return None
    node = next(
        (
            n
            for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function
        ),
        None,
    )
    if node is None:
        return None
    lines = source.splitlines()
    finders = WHERE.get(rule, ()) if rule is not None else ()
    if rule is Rule.INSTANT and "created at" in detail:
        finders = (_keyword("created_at"), *finders)
    if at_return:  # a send that returned its row unsettled
        finders = (RETURNS,)
    kept = KEPT_IN.search(detail) if rule is Rule.BOOKKEEPING else None
    if kept is not None:  # what a module-level name keeps: where the function uses it
        finders = (_name(kept[1]), *finders)
    for finder in finders:
        found = [n for n in _inside(node) if finder(n)]
        if found:
            line = _line_of(found[-1] if finder is RETURNS else found[0])
            return Location(display_path(str(file)), line, function, lines[line - 1].strip())
    body = node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
    line = body[0].lineno
    return Location(display_path(str(file)), line, function, lines[line - 1].strip())


def _inside(function: ast.AST) -> Iterator[ast.AST]:
    """The function's nodes in source order."""
    nodes = [n for n in ast.walk(function) if n is not function and hasattr(n, "lineno")]
    nodes += [n for n in ast.walk(function) if isinstance(n, ast.comprehension)]
    yield from sorted(nodes, key=_line_of)


def _line_of(node: ast.AST) -> int:
    if isinstance(node, ast.comprehension):
        return node.target.lineno
    if isinstance(node, ast.keyword):
        return node.value.lineno
    return int(getattr(node, "lineno", 0))
