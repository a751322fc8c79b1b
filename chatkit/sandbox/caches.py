"""``functools.cache`` and ``lru_cache`` for a flow, written in Python.

The standard ones keep what they remember inside C, where nothing can read it: the
explorer could not tell two states of a flow with a cache apart, so it never merged
them (a bounded cache of labels made "all timelines" run out of time), and the scale
family could not count what the flow keeps. These remember in an ordered dict, in
least-recently-used order, and behave alike otherwise. They count no hits or misses:
those depend on the order of calls, not on what is remembered, and would tell two equal
states apart (``cache_info`` says 0 for both).
"""

from __future__ import annotations

import functools
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

_KEYWORDS = object()
"""Marks where the keyword arguments start in a key."""


class Cached:
    """A function with a memory of its results, at most ``maxsize`` of them (None: all)."""

    def __init__(self, function: Callable[..., Any], maxsize: int | None, typed: bool) -> None:
        self.function = function
        self.maxsize = None if maxsize is None else max(0, maxsize)
        self.typed = typed
        self.remembered: OrderedDict[Hashable, Any] = OrderedDict()
        functools.update_wrapper(self, function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = self._key(args, kwargs)
        if key in self.remembered:
            self.remembered.move_to_end(key)
            return self.remembered[key]
        result = self.function(*args, **kwargs)
        if self.maxsize != 0:
            self.remembered[key] = result
            if self.maxsize is not None and len(self.remembered) > self.maxsize:
                self.remembered.popitem(last=False)
        return result

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return self if instance is None else types.MethodType(self, instance)

    def _key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
        key: tuple[Any, ...] = args
        if kwargs:
            key += (_KEYWORDS, *kwargs.items())
        if self.typed:
            key += (*map(type, args), *map(type, kwargs.values()))
        return key

    def cache_info(self) -> functools._CacheInfo:
        return functools._CacheInfo(0, 0, self.maxsize, len(self.remembered))

    def cache_clear(self) -> None:
        self.remembered.clear()

    def cache_parameters(self) -> dict[str, Any]:
        return {"maxsize": self.maxsize, "typed": self.typed}


def lru_cache(maxsize: Any = 128, typed: bool = False) -> Any:
    """As ``functools.lru_cache``: ``@lru_cache``, ``@lru_cache(maxsize=64)`` alike."""
    if callable(maxsize) and not isinstance(maxsize, bool):
        return Cached(maxsize, 128, typed)
    return lambda function: Cached(function, maxsize, typed)


def cache(function: Callable[..., Any]) -> Cached:
    """As ``functools.cache``: remembers every result."""
    return Cached(function, None, False)
