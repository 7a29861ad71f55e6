"""Mock mode's replay of recordings: the recorded answer for a recorded request.

A request is recorded when its canonical query (the proxy cache's key form,
`http.canonical.canonical_query`) was recorded for its API key, or by any key when
the folder holds the recordings of a single key (the common case: one
developer, one key), or by a format 1 recording (no key kept). Its answer is
the recording's bytes with the upstream's URLs re-based onto the server the
client asked (`X-Mock-Source: recorded`, and `X-Mock-Recorded-For:
this-key | another-key | any-key`), ready once per recorded file, key relation
and host: many names of one file share one answer.

Page URLs are built from the Host only when it names a host (`page_base`), and
written in as JSON writes a string (`fixtures.recordings.rebased_in`): a Host
that could not be part of a URL is the JSON 400 proxy mode sends too, and no
Host can add a key to the JSON. A recording too large for the ready bytes is
kept ready on its own (one at a time), and a large answer is made on a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from cachetools import LRUCache

from ..fixtures.recordings import UPSTREAM, Recording, rebased_in
from ..http.canonical import canonical_query
from ..http.encoding import gzip_of
from ..http.etag import etag_of
from ..http.hosts import HOST_SPACE, NOT_A_HOST, host_name
from ..http.keys import bearer_token, key_fingerprint
from ..http.reply import Reply
from ..http.request import Incoming

# On every listing answer, recorded or emulated (mock.service), as the real API
# (Laravel) says it: one key's, revalidated by ETag before each use, so a shared
# cache in front gives it no lifetime of its own. In the ready bytes, once.
PRIVATE = (b"cache-control", b"private, no-cache")

READY_BYTES = 64 * 1024 * 1024
THREAD_BYTES = 64 * 1024  # answers from larger recordings are made on a thread
API = "/api"  # the base URL's path, as the upstream's (https://app.sondos-ai.com/api)

_SCHEMES = frozenset({"http", "https"})
_UPSTREAM = UPSTREAM.encode()

Slot = tuple[Path, str, str | None]  # recorded file, key relation, base (None: a bad Host)


def page_base(base: str) -> str | None:
    """`base` (scheme://host[:port] and a path, as the client named the host) when page
    URLs can be built on it; None when its host could not be part of a URL."""
    scheme, _, rest = base.partition("://")
    host, slash, path = rest.partition("/")
    if scheme not in _SCHEMES or host_name(host.encode("latin-1", "replace")) is None:
        return None
    return f"{scheme}://{host.strip(HOST_SPACE)}{slash}{path}"


class Replay:
    """Finds a request's recording and answers it; `strict`: nothing else is answered."""

    def __init__(
        self,
        recordings: Sequence[Recording],
        *,
        strict: bool = False,
        ready_bytes: int = READY_BYTES,
    ) -> None:
        self.strict = strict
        self._by_query: dict[str, dict[str | None, Recording]] = {}
        for recording in recordings:
            self._by_query.setdefault(recording.query, {})[recording.key] = recording
        keys = {recording.key for recording in recordings}
        self._single = next(iter(keys)) if len(keys) == 1 else None
        self._ready: LRUCache[Slot, Reply] = LRUCache(maxsize=ready_bytes, getsizeof=_cost)
        self._largest: tuple[Slot, Reply] | None = None  # one answer past ready_bytes
        self.queries = sorted(self._by_query)

    def __bool__(self) -> bool:
        return bool(self._by_query)

    def covers(self, raw_query: bytes) -> bool:
        """Whether some key's recording answers this query (the hot path then steps aside)."""
        return canonical_query(raw_query.decode("latin-1")) in self._by_query

    def answer(self, raw_query: bytes, token: bytes | None, base: str) -> Reply | None:
        """The recorded answer for this query and key, re-based onto `base`; or None."""
        found = self._found(raw_query, token)
        if found is None:
            return None
        recording, whose = found
        slot = (recording.file, whose, page_base(base))
        if (ready := self._get(slot)) is not None:
            return ready
        if slot[2] is None and _UPSTREAM in recording.body:
            return NOT_A_HOST  # page URLs to write, and no host to write them with
        ready = _made(recording, whose, slot[2] or "")
        self._keep(slot, ready)
        return ready

    async def prepare(self, incoming: Incoming) -> None:
        """Make a large recording's answer for this request on a thread beforehand, so
        that `answer` finds it ready: the loop never waits on it."""
        token = bearer_token(incoming.head.authorization)
        found = self._found(incoming.query, token)
        if found is None or len(found[0].body) < THREAD_BYTES:
            return
        recording, whose = found
        slot = (recording.file, whose, page_base(incoming.origin + API))
        if slot[2] is not None and self._get(slot) is None:
            self._keep(slot, await asyncio.to_thread(_made, recording, whose, slot[2]))

    def _found(self, raw_query: bytes, token: bytes | None) -> tuple[Recording, str] | None:
        found = self._by_query.get(canonical_query(raw_query.decode("latin-1")))
        if not found:
            return None
        fingerprint = key_fingerprint(token) if token else None
        if fingerprint in found:
            return found[fingerprint], "this-key"
        if None in found:
            return found[None], "any-key"
        if self._single is not None and self._single in found:
            return found[self._single], "another-key"
        return None

    def _get(self, slot: Slot) -> Reply | None:
        if self._largest is not None and self._largest[0] == slot:
            return self._largest[1]
        return self._ready.get(slot)

    def _keep(self, slot: Slot, ready: Reply) -> None:
        if _cost(ready) <= self._ready.maxsize:
            self._ready[slot] = ready
        else:
            self._largest = (slot, ready)

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


def _made(recording: Recording, whose: str, base: str) -> Reply:
    body = rebased_in(recording.body, base)
    return Reply.json(
        200,
        body,
        (b"etag", etag_of(body)),
        PRIVATE,
        (b"x-mock-source", b"recorded"),
        (b"x-mock-recorded-for", whose.encode()),
    ).with_gzip(gzip_of(body))


def _cost(reply: Reply) -> int:
    """The bytes a ready answer holds, both forms."""
    return len(reply.body) + len(reply.gzipped.body if reply.gzipped else b"") + 512
