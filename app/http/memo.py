"""A memo of one-argument functions, bounded in entries and in the size of what it keeps.

`functools.lru_cache` keeps whatever it is given: 4,096 Authorization headers of
60 KB each held 235 MiB. `Memo` keeps only keys of at most `key_bytes` (longer
ones are worked out each time: they are rare, and costly only to keep), and
starts afresh when it holds `entries`.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Generic, TypeVar

K = TypeVar("K", bound=Sized | None)
V = TypeVar("V")


class Memo(Generic[K, V]):
    """`function`, remembered for short keys (`None` included)."""

    def __init__(self, function: Callable[[K], V], *, entries: int, key_bytes: int) -> None:
        self.function = function
        self.entries = entries
        self.key_bytes = key_bytes
        self._kept: dict[K, V] = {}
        self.__doc__ = function.__doc__

    def __call__(self, key: K) -> V:
        try:
            return self._kept[key]
        except KeyError:
            pass
        value = self.function(key)
        if key is None or len(key) <= self.key_bytes:
            if len(self._kept) >= self.entries:
                self._kept.clear()
            self._kept[key] = value
        return value

    def clear(self) -> None:
        self._kept.clear()


def memo(*, entries: int, key_bytes: int) -> Callable[[Callable[[K], V]], Memo[K, V]]:
    """A decorator: the function as a `Memo`."""

    def wrap(function: Callable[[K], V]) -> Memo[K, V]:
        return Memo(function, entries=entries, key_bytes=key_bytes)

    return wrap
