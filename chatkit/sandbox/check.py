"""Read a flow's source, before any of it runs, and refuse what a flow may not do.

A flow runs on phones of its own, which only the judge's events drive, and it keeps to
`chatkit.sandbox.policy`: the kit's public names, a short list of harmless standard
modules, and no way around them (no ``__dunder__`` attributes, no frames, no private
attributes of what the kit hands over, no builtins that open files or run strings). The
import gate enforces the same list at run time; this check exists so a learner hears
about it at once, with the line. It reads each file as Python does (`read_source`), and
refuses, before parsing, files far bigger than a flow could need.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from string import Formatter

from chatkit.sandbox.policy import (
    ALLOWED_DUNDERS,
    CACHED_ANSWERS,
    DECLARED_DUNDERS,
    FORBIDDEN_BUILTINS,
    INTROSPECTION_ATTRIBUTES,
    PUBLIC_UNDERSCORED,
    SHARED_STATE_ATTRIBUTES,
    WHY_NOT,
    WHY_NOT_MODULE,
    allowed_module,
    name_allowed,
)

_DUNDER = re.compile(r"__\w+__")
_FIELD_START = re.compile(r"[^.\[]*")
_FIELD_PART = re.compile(r"\.([^.\[]*)|\[[^\]]*\]")
"""A format field after its first name: ``.attribute`` or ``[key]``, as str.format reads it."""
_SELF_MATCHING = frozenset(
    [
        "bool",
        "bytearray",
        "bytes",
        "dict",
        "float",
        "frozenset",
        "int",
        "list",
        "set",
        "str",
        "tuple",
    ]
)
"""Python's classes whose ``case int(x)`` binds the value itself, reading no attribute."""
_FORMAT_DUNDER = re.compile(r"\{[^{}]*__\w+__")


@dataclass(frozen=True, slots=True)
class Violation:
    """One line of a flow that does something a flow may not."""

    file: Path
    line: int
    function: str
    """The function the line is in (``<module>`` outside any)."""
    code: str
    """The line as written."""
    why: str
    """What is wrong, written for the learner."""


MAX_SOURCE_BYTES = 4_000_000
"""The most source a flow and its helpers may have in all. A flow is a few hundred lines;
parsing many megabytes would cost the grader seconds and gigabytes before any verdict."""


def read_source(path: Path) -> str:
    """A module's text as Python reads it: UTF-8 unless a coding line says otherwise, a
    byte-order mark dropped, line ends made ``\\n``. Raises `SyntaxError` or
    `UnicodeDecodeError` where Python's import would fail."""
    return importlib.util.decode_source(path.read_bytes())


class Uncheckable(Exception):
    """A flow too big, or nested too deeply, for the check to read: refused before any of
    it runs."""

    def __init__(self, path: Path, line: int, why: str) -> None:
        super().__init__(why)
        self.path, self.line, self.why = path, line, why


def check_target(flow_file: Path) -> list[Violation]:
    """Check ``flow.py`` and every helper module it imports from its own folder.

    A file that does not parse, or cannot be read as text, is left to the import probe,
    which reports the error with its line, as Python would. Raises `Uncheckable` for
    source far bigger, or nested far deeper, than a flow could need.
    """
    folder = flow_file.parent
    pending, seen = [flow_file.resolve()], set[Path]()
    violations: list[Violation] = []
    size = 0
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        size += path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise Uncheckable(
                path,
                0,
                f"your flow and its helpers come to more than {MAX_SOURCE_BYTES // 1_000_000} MB "
                "of source; a flow needs a few hundred lines",
            )
        try:
            source = read_source(path)
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, UnicodeDecodeError):
            continue
        except (RecursionError, MemoryError):
            raise Uncheckable(path, 0, _TOO_DEEP) from None
        checker = _Checker(path, source.splitlines(), folder)
        try:
            checker.check(tree)
        except RecursionError as error:
            raise Uncheckable(path, _line_of(error), _TOO_DEEP) from None
        violations += checker.violations
        pending += [folder / f"{name}.py" for name in checker.helpers]
    return sorted(violations, key=lambda v: (str(v.file), v.line))


_TOO_DEEP = (
    "an expression nested too deeply to check (hundreds of parts in one, say); "
    "split it into smaller ones"
)


def _line_of(error: RecursionError) -> int:
    """The line of the deepest node the check was reading when it ran out of stack."""
    frame, line = error.__traceback__, 0
    while frame is not None:
        node = frame.tb_frame.f_locals.get("node")
        if isinstance(node, ast.AST):
            line = getattr(node, "lineno", line)
        frame = frame.tb_next
    return line


def is_helper(folder: Path, name: str) -> bool:
    """A module of the learner's own, beside ``flow.py`` (and not a module the policy names):
    a real file there, never a link to a file elsewhere."""
    if allowed_module(name) is not None or "." in name:
        return False
    path = folder / f"{name}.py"
    return path.is_file() and not is_link(path)


def is_link(path: Path) -> bool:
    """Whether ``path`` is a link (symbolic or hard) to a file that has a name elsewhere:
    through it, a phone confined to its folder would read what lies outside."""
    try:
        return path.is_symlink() or (path.is_file() and path.stat().st_nlink > 1)
    except OSError:
        return False


def _linked_helper(folder: Path, name: str) -> str | None:
    """Why ``import name`` is refused when ``name.py`` beside flow.py is a link, else None."""
    if "." not in name and is_link(folder / f"{name}.py"):
        return (
            f"{name}.py is a link to a file elsewhere (a symbolic or a hard link); a helper "
            "module must be a file of your own beside flow.py"
        )
    return None


class _Checker(ast.NodeVisitor):
    def __init__(self, path: Path, lines: list[str], folder: Path) -> None:
        self.path = path
        self.lines = lines
        self.folder = folder
        self.violations: list[Violation] = []
        self.helpers: set[str] = set()
        """The learner's own modules this file imports."""
        self.helper_names: set[str] = set()
        """Names this file binds to those modules."""
        self.modules: dict[str, str] = {}
        """Names bound to a standard module or the kit, and which module."""
        self.imported: set[str] = set()
        """Names bound by ``from … import``, of the kit or the standard library."""
        self.classes: set[str] = set()
        """The classes this file defines."""
        self.private: set[str] = set()
        """The private attribute names this file gives its own classes and objects (a
        dataclass's ``_id``, ``self._seen = …``): its own, wherever it reads them."""
        self.bound: set[str] = set()
        """Every name the file binds anywhere (a flow may name its own ``input``)."""
        self._module_bases: set[int] = set()
        self._literal_getattrs: set[int] = set()
        """The ``getattr`` names of calls that name their attribute in place (allowed)."""
        self._functions = ["<module>"]
        self._demos: list[range] = []
        """The lines of each ``if __name__ == "__main__":`` block (a demo that never runs
        on a phone, but is checked all the same)."""

    def check(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            self._note_binding(node)
        self._demos = [
            range(node.lineno, (node.end_lineno or node.lineno) + 1)
            for node in tree.body
            if isinstance(node, ast.If) and _is_main_test(node.test)
        ]
        self.visit(tree)

    def _refuse(self, node: ast.AST, why: str) -> None:
        line = getattr(node, "lineno", 0)
        code = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        if any(line in demo for demo in self._demos):
            why += _IN_A_DEMO
        self.violations.append(Violation(self.path, line, self._functions[-1], code, why))

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in CACHED_ANSWERS:
            self._refuse(
                node,
                f"`{node.name}` decides what isinstance answers, and Python remembers its "
                "answers where nothing can see them; give the class the methods it needs, "
                "and check values with isinstance on the classes themselves",
            )
        self._functions.append(node.name)
        self.generic_visit(node)
        self._functions.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _visit_function

    def _note_binding(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            self.bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.bound.add(node.name)
        elif isinstance(node, ast.ClassDef):
            self.bound.add(node.name)
            self.classes.add(node.name)
            self.private.update(name for name in _class_names(node) if _private(name))
        elif (
            isinstance(node, ast.Attribute)
            and not isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name)
            and node.value.id in {"self", "cls"}
            and _private(node.attr)
        ):
            self.private.add(node.attr)
        elif isinstance(node, ast.arg):
            self.bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.bound.add(node.name)

    # Imports.

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.name
            linked = _linked_helper(self.folder, name)
            if linked is not None:
                self._refuse(node, linked)
            elif is_helper(self.folder, name):
                self.helpers.add(name)
                self.helper_names.add(alias.asname or name)
            elif allowed_module(name) is None:
                self._refuse(node, _not_allowed(name, self.folder))
            elif "." in name and alias.asname is None:
                self._refuse(node, f"write `from {name} import …` (or `import {name} as …`)")
            else:
                self.modules[alias.asname or name] = name

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self._refuse(
                node, "import your helper modules by name (`import helpers`), not relatively"
            )
            return
        linked = _linked_helper(self.folder, module)
        if linked is not None:
            self._refuse(node, linked)
            return
        if is_helper(self.folder, module):
            self.helpers.add(module)
            return
        if allowed_module(module) is None:
            self._refuse(node, _not_allowed(module, self.folder))
            return
        for alias in node.names:
            if alias.name == "*":
                self._refuse(node, f"name what you use: `from {module} import a, b`")
            elif not name_allowed(module, alias.name):
                self._refuse(node, _name_not_allowed(module, alias.name))
            else:
                self.imported.add(alias.asname or alias.name)

    # Names and attributes.

    def visit_Name(self, node: ast.Name) -> None:
        if (
            _DUNDER.fullmatch(node.id)
            and node.id not in ALLOWED_DUNDERS
            and node.id not in DECLARED_DUNDERS
        ):
            self._refuse(
                node, f"`{node.id}` reaches into Python's internals; a flow never needs it"
            )
        elif (
            node.id in FORBIDDEN_BUILTINS
            and node.id not in self.bound
            and id(node) not in self._literal_getattrs
        ):
            self._refuse(node, _forbidden_builtin(node.id))
        elif node.id in self.modules and id(node) not in self._module_bases:
            module = self.modules[node.id]
            self._refuse(
                node,
                f"use `{node.id}.something` directly: the module `{module}` itself cannot be "
                "stored or passed around",
            )

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr, base = node.attr, node.value
        writes = not isinstance(node.ctx, ast.Load)
        if isinstance(base, ast.Name) and base.id in self.modules:
            self._module_bases.add(id(base))
            module = self.modules[base.id]
            if writes:
                self._refuse(node, f"a flow may not change `{module}.{attr}`")
            elif not name_allowed(module, attr):
                self._refuse(node, _name_not_allowed(module, attr))
        elif (refused := _attribute_refusal(attr, own=self._is_own(base, attr))) is not None:
            self._refuse(node, refused)
        elif attr in ("format", "format_map") and not _literal_text(base):
            self._refuse(
                node,
                f"`.{attr}` on text made at run time can reach attributes by name; use an "
                "f-string, or `.format` on text written in place",
            )
        elif writes and isinstance(base, ast.Name) and base.id in self.imported:
            self._refuse(node, f"a flow may not change `{base.id}` itself, only its own values")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        """``getattr(row, "error", None)`` names its attribute in place, so it is checked as
        ``row.error`` is and may run; a name made at run time could reach anything."""
        function = node.func
        if (
            isinstance(function, ast.Name)
            and function.id == "getattr"
            and "getattr" not in self.bound
        ):
            name = literal_getattr_name(node)
            if name is None:
                self._refuse(
                    node,
                    "`getattr` with a name made at run time can reach anything; write the name "
                    'in place (`getattr(row, "error", None)`), or use `row.error`',
                )
            else:
                base = node.args[0]
                if isinstance(base, ast.Name) and base.id in self.modules:
                    self._module_bases.add(id(base))
                    if not name_allowed(self.modules[base.id], name):
                        self._refuse(node, _name_not_allowed(self.modules[base.id], name))
                elif (
                    refused := _attribute_refusal(name, own=self._is_own(base, name))
                ) is not None:
                    self._refuse(node, refused)
                self._literal_getattrs.add(id(function))
        self.generic_visit(node)

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        """``case object(name=x)`` reads the subject's attribute ``name``, as ``.name`` does,
        so each such name is checked as an attribute is. ``case Cls(x)`` reads the
        attributes ``Cls.__match_args__`` names, which a class made at run time can make
        anything: refused, but for Python's own values, which match themselves."""
        for attr in node.kwd_attrs:
            refused = _attribute_refusal(attr, own=False)
            if refused is not None:
                self._refuse(node, refused)
        cls = node.cls
        matches_itself = (
            isinstance(cls, ast.Name) and cls.id in _SELF_MATCHING and cls.id not in self.bound
        )
        if node.patterns and not (matches_itself and len(node.patterns) == 1):
            self._refuse(
                node,
                "a class pattern with values in order reads attributes its class names at run "
                "time; name each one (`case Message(status=Status.SENT)`)",
            )
        self.generic_visit(node)

    def _is_own(self, base: ast.expr, attr: str) -> bool:
        """``self._x``, ``cls._x``, ``helpers._x`` or ``Stats._x`` (a class of this file's
        own, by a name nothing else binds), or ``note._x`` for an ``_x`` this file gives
        its own classes or objects: the learner's own private names."""
        if attr in self.private:
            return True
        return isinstance(base, ast.Name) and (
            base.id in {"self", "cls"}
            or base.id in self.helper_names
            or (base.id in self.classes and base.id not in self.imported)
        )

    def visit_Constant(self, node: ast.Constant) -> None:
        text = node.value
        if not isinstance(text, str):
            return
        if (_DUNDER.fullmatch(text) and text != "__main__") or _FORMAT_DUNDER.search(text):
            self._refuse(node, "a string that names Python's internals; a flow never needs one")
            return
        for attr in _format_attributes(text):
            refused = _attribute_refusal(attr, own=False)
            if refused is not None:
                self._refuse(node, f"as a format field, {refused}")
                return


def _attribute_refusal(attr: str, *, own: bool) -> str | None:
    """Why reading the attribute ``attr`` is refused, if it is (``own``: of the learner's
    own object, whose private names are its own business)."""
    if _DUNDER.fullmatch(attr) and attr not in ALLOWED_DUNDERS:
        return f"`.{attr}` reaches into Python's internals; a flow never needs it"
    if attr in INTROSPECTION_ATTRIBUTES:
        return f"`.{attr}` reaches the code around your flow; a flow never needs it"
    if attr in SHARED_STATE_ATTRIBUTES:
        return f"`.{attr}` changes Python's own classes, outside your flow; a flow never needs it"
    if _private(attr) and not own and attr not in PUBLIC_UNDERSCORED:
        return (
            f"`.{attr}` is private to the kit or Python; use the public names "
            "(`state.get`, `state.chat`, `message.status`, …)"
        )
    return None


def _private(name: str) -> bool:
    """A private name (``_seen``), not a ``__dunder__`` (those have rules of their own)."""
    return name.startswith("_") and not _DUNDER.fullmatch(name)


def _class_names(node: ast.ClassDef) -> list[str]:
    """The names a class's body gives its objects: fields, values and methods."""
    names: list[str] = []
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.append(statement.target.id)
        elif isinstance(statement, ast.Assign):
            names += [target.id for target in statement.targets if isinstance(target, ast.Name)]
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(statement.name)
    return names


def _format_attributes(text: str, depth: int = 0) -> list[str]:
    """The attributes ``text.format(…)`` would read: ``{0.name}`` reads ``name``, as
    ``.name`` does (fields nested in a format spec too). None for text that is not a
    format string."""
    if "{" not in text or depth > 2:
        return []
    try:
        fields = list(Formatter().parse(text))
    except ValueError:  # not a format string: .format would refuse it too
        return []
    found: list[str] = []
    for _, field, spec, _ in fields:
        if field:
            first = _FIELD_START.match(field)
            rest = field[first.end() :] if first else ""
            found += [part.group(1) for part in _FIELD_PART.finditer(rest) if part.group(1)]
        if spec:
            found += _format_attributes(spec, depth + 1)
    return found


def literal_getattr_name(call: ast.Call) -> str | None:
    """The attribute ``getattr(obj, "name")`` or ``getattr(obj, "name", default)`` names in
    place, or None when the call has another shape."""
    if call.keywords or len(call.args) not in (2, 3):
        return None
    name = call.args[1]
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return name.value
    return None


def getattr_names(tree: ast.AST) -> set[str]:
    """Every attribute name a file's ``getattr`` calls write in place."""
    return {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and (name := literal_getattr_name(node)) is not None
    }


_IN_A_DEMO = (
    ' (this is in an `if __name__ == "__main__":` block, which is checked like the rest: '
    "take it out, and try your flow with `python grader.py` or the terminal client)"
)


def _is_main_test(test: ast.expr) -> bool:
    """``__name__ == "__main__"``, either way round."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = (test.left, test.comparators[0])
    return any(isinstance(side, ast.Name) and side.id == "__name__" for side in sides) and any(
        isinstance(side, ast.Constant) and side.value == "__main__" for side in sides
    )


def _literal_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _not_allowed(module: str, folder: Path) -> str:
    if module == "chatkit" or module.startswith("chatkit."):
        return (
            f"`{module}` is the kit's inside: import what you need from `chatkit` itself "
            "(`from chatkit import ChatState, Message, …`)"
        )
    package, _, rest = module.partition(".")
    if (folder / package).is_dir():
        return (
            f"`{module}` is in a folder of yours: a helper module must be a file right beside "
            f"flow.py (`{rest.rpartition('.')[2] or package}.py`), not in a folder"
        )
    why = WHY_NOT_MODULE.get(package)
    return f"a flow may not import `{module}`" + (f": {why}" if why else "")


def _name_not_allowed(module: str, name: str) -> str:
    if module == "chatkit":
        return f"`{name}` is not one of chatkit's public names (see `chatkit.__all__`)"
    return WHY_NOT.get((module, name), f"a flow may not use `{module}.{name}`")


def _forbidden_builtin(name: str) -> str:
    if name in {"open", "input", "breakpoint", "help"}:
        return f"a flow may not use `{name}`: it talks to files or the terminal, not to the chat"
    if name in {"exit", "quit"}:
        return f"a flow may not call `{name}`: it would end the program"
    return f"a flow may not use `{name}`: it runs text as code or reaches names by string"
