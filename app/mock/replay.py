"""Mock mode's replay of recordings: the recorded answer for a recorded request.

A request is recorded when its canonical query (the proxy cache's key form,
`http.canonical.canonical_query`) was recorded for its API key, or by any key when
the folder holds the recordings of a single key (the common case: one
developer, one key), or by a format 1 recording (no key kept). Its answer is
the recording's bytes with the upstream's URLs re-based onto the server the
client asked (`X-Mock-Source: recorded`, and `X-Mock-Recorded-For:
this-key | another-key | any-key`), ready once per recording and host.
"""

from __future__ import annotations

from collections.abc import Sequence

from cachetools import LRUCache

from ..fixtures.recordings import Recording, rebased_in
from ..http.canonical import canonical_query
from ..http.encoding import gzip_of
from ..http.etag import etag_of
from ..http.keys import key_fingerprint
from ..http.reply import Reply

# On every listing answer, recorded or emulated (mock.service), as the real API
# (Laravel) says it: one key's, revalidated by ETag before each use, so a shared
# cache in front gives it no lifetime of its own. In the ready bytes, once.
PRIVATE = (b"cache-control", b"private, no-cache")

READY_BYTES = 64 * 1024 * 1024


class Replay:
    """Finds a request's recording and answers it; `strict`: nothing else is answered."""

    def __init__(self, recordings: Sequence[Recording], *, strict: bool = False) -> None:
        self.strict = strict
        self._by_query: dict[str, dict[str | None, Recording]] = {}
        for recording in recordings:
            self._by_query.setdefault(recording.query, {})[recording.key] = recording
        keys = {recording.key for recording in recordings}
        self._single = next(iter(keys)) if len(keys) == 1 else None
        self._ready: LRUCache[tuple[str, str, str], Reply] = LRUCache(
            maxsize=READY_BYTES, getsizeof=lambda reply: 2 * len(reply.body) + 512
        )
        self.queries = sorted(self._by_query)

    def __bool__(self) -> bool:
        return bool(self._by_query)

    def covers(self, raw_query: bytes) -> bool:
        """Whether some key's recording answers this query (the hot path then steps aside)."""
        return canonical_query(raw_query.decode("latin-1")) in self._by_query

    def answer(self, raw_query: bytes, token: bytes | None, base: str) -> Reply | None:
        """The recorded answer for this query and key, re-based onto `base`; or None."""
        found = self._by_query.get(canonical_query(raw_query.decode("latin-1")))
        if not found:
            return None
        fingerprint = key_fingerprint(token) if token else None
        if fingerprint in found:
            recording, whose = found[fingerprint], "this-key"
        elif None in found:
            recording, whose = found[None], "any-key"
        elif self._single is not None and self._single in found:
            recording, whose = found[self._single], "another-key"
        else:
            return None
        return self._reply(recording, whose, base)

    def refusal(self) -> Reply:
        """`--replay recorded`: the 404 for a request nothing recorded answers."""
        return Reply.message(
            404,
            {
                "message": "No recording answers this query for this key "
                "(--replay recorded serves recordings only).",
                "recorded": self.queries,
            },
            (b"x-mock-source", b"recorded"),
        )

    def _reply(self, recording: Recording, whose: str, base: str) -> Reply:
        slot = (recording.name, whose, base)
        if (ready := self._ready.get(slot)) is None:
            body = rebased_in(recording.body, base)
            ready = Reply.json(
                200,
                body,
                (b"etag", etag_of(body)),
                PRIVATE,
                (b"x-mock-source", b"recorded"),
                (b"x-mock-recorded-for", whose.encode()),
            ).with_gzip(gzip_of(body))
            self._ready[slot] = ready
        return ready
