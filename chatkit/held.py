"""What an object holds, read as stored, without running any code of its own class.

The phone reads what a flow keeps (`chatkit.phone.hidden` for the explorer's
key, `chatkit.phone.kept` for rule 14's count) through the built-in types' own methods:
a flow's ``__getattr__``, ``__len__`` or ``__iter__`` could answer what it likes.
"""

from __future__ import annotations

from types import CellType

_HEAP_TYPE = 1 << 9
"""``Py_TPFLAGS_HEAPTYPE``: a class written in Python, whose attributes can be changed."""


def is_python_class(value: type) -> bool:
    """Whether a class was written in Python (its attributes can change), not in C."""
    return bool(value.__flags__ & _HEAP_TYPE)


def slot_names(kind: type) -> list[str]:
    """Every slot a class and its bases declare, as stored (private names mangled)."""
    names: list[str] = []
    for cls in kind.__mro__:
        declared = cls.__dict__.get("__slots__", ())
        for slot in (declared,) if isinstance(declared, str) else declared:
            if slot in ("__dict__", "__weakref__"):
                continue
            private = slot.startswith("__") and not slot.endswith("__")
            names.append(f"_{cls.__name__.lstrip('_')}{slot}" if private else slot)
    return names


def has_dict(value: object) -> bool:
    try:
        object.__getattribute__(value, "__dict__")
    except AttributeError:
        return False
    return True


def instance_dict(value: object) -> dict[str, object] | None:
    """An object's ``__dict__`` itself (not a copy), or None if it has none that is a dict."""
    try:
        attributes = object.__getattribute__(value, "__dict__")
    except AttributeError:
        return None
    return attributes if type(attributes) is dict else None


def own_attributes(value: object) -> dict[str, object]:
    """An object's own attributes: its ``__dict__`` and its filled slots."""
    held = dict(instance_dict(value) or {})
    for slot in slot_names(type(value)):
        try:
            held[slot] = object.__getattribute__(value, slot)
        except AttributeError:
            continue
    return held


def cell_contents(cell: CellType) -> object:
    """What a closure's cell holds; None for one not filled in yet."""
    try:
        return cell.cell_contents
    except ValueError:
        return None
