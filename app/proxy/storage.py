"""Cache entries in process memory, bounded by count and bytes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from cachetools import LRUCache

from ..http.clock import Clock
from .cache import CacheKey, Entry


class MemoryStorage:
    """Entries in process memory, bounded by count and by bytes, LRU first out.

    An entry is dropped once none of its windows is left: when it is next
    looked up, or by a sweep that runs at most once a minute when entries are
    stored. (cachetools' TLRUCache would do the same on every lookup, at five
    times the cost of the LRUCache lookup on a hit.)
    """

    SWEEP_EVERY = 60.0

    def __init__(self, *, max_entries: int, max_bytes: int, clock: Clock) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._swept_at = clock()
        # Changes whenever an entry is stored or dropped: a reply made from
        # the storage is still right while the generation is the one it saw.
        self.generation = 0
        self._entries: LRUCache[CacheKey, Entry] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda entry: entry.size
        )

    def get(self, key: CacheKey) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.error_until <= self._clock():
            self._entries.pop(key, None)
            self.generation += 1
            return None
        return entry

    def put(self, key: CacheKey, entry: Entry) -> bool:
        """Store an entry; False when it is larger than the whole cache."""
        if entry.key_bytes != len(key):
            entry = dataclasses.replace(entry, key_bytes=len(key))
        if entry.size > self._entries.maxsize:
            return False
        self.generation += 1
        self._entries[key] = entry
        while len(self._entries) > self.max_entries:
            self._entries.popitem()
        if (now := self._clock()) - self._swept_at >= self.SWEEP_EVERY:
            self._swept_at = now
            self._drop(lambda _key, old: old.error_until <= now)
        return True

    def purge(self, fingerprint: str | None = None) -> int:
        """Drop every entry, or every entry of one API key; return how many."""
        return self._drop(lambda key, _entry: fingerprint in {None, key.fingerprint})

    def _drop(self, doomed: Callable[[CacheKey, Entry], bool]) -> int:
        keys = [key for key, entry in list(self._entries.items()) if doomed(key, entry)]
        self.generation += 1
        for key in keys:
            self._entries.pop(key, None)
        return len(keys)

    @property
    def entries(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return int(self._entries.currsize)
