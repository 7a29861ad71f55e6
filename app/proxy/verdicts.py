"""Replies from the policy's decisions: bytes, `Cache-Status`, `X-Cache`, `Age`.

Every leads answer of proxy mode says what the cache did, in two headers:
`X-Cache` (HIT, STALE, MISS or BYPASS, the label the counters use too) and
`Cache-Status` (RFC 9211: `leads-proxy; hit; ttl=12`, `leads-proxy;
fwd=miss; fwd-status=200; stored`, ...). `label` is the one mapping from a
decision to its label: the header and the counters read it.
"""

from __future__ import annotations

import math

from ..http.encoding import VARY, gzip_etag
from ..http.etag import etag_matches
from ..http.reply import Headers, Reply
from ..http.service import BYPASS, HIT, MISS, STALE, Served
from .cache import Entry
from .exchange import Answer, UpstreamError, forwardable
from .policy import CachedOnly, Fallback, Fresh, Hit, PassOn, Stale, TooMany, Unserved
from .rebase import Rebase

Answered = Hit | Stale | CachedOnly | TooMany | Fresh | PassOn | Fallback | Unserved


def label(decision: Answered) -> str:
    """The X-Cache label of an answer, and the counter it goes to."""
    if isinstance(decision, Hit):
        return HIT
    if isinstance(decision, Stale):
        return STALE
    return MISS


def status_line(kind: str, **params: object) -> bytes:
    """A Cache-Status value: `leads-proxy[; kind][; name=value...]`."""
    parts = ["leads-proxy", kind] if kind else ["leads-proxy"]
    parts += [f"{name.replace('_', '-')}={value}" for name, value in params.items()]
    return "; ".join(parts).encode()


def labelled(reply: Reply, x_cache: str, status: bytes) -> Reply:
    return reply.with_headers((b"cache-status", status), (b"x-cache", x_cache.encode()))


def hit(entry: Entry, now: float, if_none_match: bytes | None, base: Rebase | None = None) -> Reply:
    """A fresh hit (as the client's listing URL sees it, with `base`). Age and ttl are
    whole seconds: hits within one second share one reply."""
    if base is not None:
        entry = base.view(entry)
    ttl = math.ceil(entry.fresh_until - now)
    status = b"leads-proxy; hit; ttl=%d" % ttl
    if if_none_match is not None:
        return send(entry, now, if_none_match, HIT, status)
    stamp = (int(now - entry.stored_at), ttl)
    memo = entry.memo
    if memo and memo[0] == stamp:
        reply: Reply = memo[1]
        return reply
    reply = send(entry, now, None, HIT, status)
    memo[:] = [stamp, reply]
    return reply


def hit_until(entry: Entry, now: float) -> float:
    """Until when the hit reply made at `now` stays right: its Age and ttl, its hold."""
    next_age = entry.stored_at + math.floor(now - entry.stored_at) + 1
    next_ttl = entry.fresh_until - math.ceil(entry.fresh_until - now) + 1
    return min(entry.hot_until, next_age, next_ttl)


class ReadyHits:
    """Hits, ready for the very request that got them while nothing changed.

    Keyed by what the request sent that decides its answer (its raw
    Authorization header and query, and the Host, path and scheme its page
    URLs are re-based onto), in process memory only; a hit is given again
    until its Age or ttl would change, and only while the storage's
    generation is the one it was made from (no entry stored or dropped since).
    A hit then costs a dict lookup and a comparison.
    """

    LIMIT = 4096

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._ready: dict[tuple[object, ...], tuple[Served, float, int]] = {}
        self.max_bytes = max_bytes  # of the bodies the ready hits hold, counted as kept
        self._bytes = 0

    def get(self, request: tuple[object, ...], now: float, generation: int) -> Served | None:
        """The hit, if one is ready for this request now."""
        ready = self._ready.get(request)
        if ready is None or now >= ready[1] or ready[2] != generation:
            return None
        return ready[0]

    def keep(
        self, request: tuple[object, ...], made: Served, *, until: float, generation: int
    ) -> None:
        # The body, and what the key holds (an Authorization header may be long).
        size = len(made.reply.body) + sum(
            len(part) for part in request if isinstance(part, (bytes, str))
        )
        if len(self._ready) >= self.LIMIT or self._bytes + size > self.max_bytes:
            self._ready.clear()
            self._bytes = 0
        self._ready[request] = (made, until, generation)
        self._bytes += size


def stale(
    decision: Stale, now: float, if_none_match: bytes | None, base: Rebase | None = None
) -> Reply:
    entry, why = decision.entry, decision.why
    if base is not None:
        entry = base.view(entry)
    ttl = math.floor(entry.fresh_until - now)
    if why == "stale-while-revalidate":
        status = status_line("hit", ttl=ttl, detail=why)
    else:
        upstream = decision.upstream_status
        fwd_status = {"fwd_status": upstream} if upstream else {}
        status = status_line("", fwd="stale", **fwd_status, ttl=ttl, detail=why)
    return send(entry, now, if_none_match, STALE, status)


def fresh(
    decision: Fresh, now: float, if_none_match: bytes | None, base: Rebase | None = None
) -> Reply:
    filled = decision.filled
    stored = {"stored": "?1"} if filled.stored else {}
    peer = {"detail": "filled-by-peer"} if filled.by_peer else {}
    fwd = "request" if decision.no_cache else "miss"
    status = status_line("", fwd=fwd, fwd_status=200, **stored, **peer)
    entry = filled.entry if base is None else base.view(filled.entry)
    return send(entry, now, if_none_match, MISS, status)


def send(
    entry: Entry, now: float, if_none_match: bytes | None, x_cache: str, status: bytes
) -> Reply:
    """The entry's body, or a 304 when the client's ETag matches."""
    age = (b"age", str(int(now - entry.stored_at)).encode())
    extra: Headers = (age, (b"cache-status", status), (b"x-cache", x_cache.encode()))
    gzipped = entry.gzipped
    if if_none_match is not None and etag_matches(if_none_match, entry.etag):
        # A 304 says what the 200 would of caching (RFC 9110, 15.4.5).
        extra = ((b"cache-control", entry.cache_control), *extra)
        if gzipped is None:
            return Reply(304, ((b"etag", entry.etag), *extra))
        as_gzip = Reply(304, ((b"etag", gzip_etag(entry.etag)), VARY, *extra))
        return Reply(304, ((b"etag", entry.etag), VARY, *extra), gzipped=as_gzip)
    if gzipped is None:
        return Reply(200, entry.headers + extra, entry.body)
    as_gzip = Reply(200, entry.gzip_headers + extra, gzipped)
    return Reply(200, entry.headers + extra, entry.body, gzipped=as_gzip)


def pass_on(answer: Answer) -> Reply:
    status = status_line("", fwd="miss", fwd_status=answer.status)
    return labelled(passed(answer), MISS, status)


def cached_only() -> Reply:
    message = {"message": "Nothing fresh is cached for this request (only-if-cached)."}
    return labelled(Reply.message(504, message), MISS, status_line("", detail="only-if-cached"))


def too_many(decision: TooMany) -> Reply:
    """A 429 that tells the remaining wait, whatever the upstream's answer said."""
    answer = decision.answer
    base = (
        passed(answer, drop={"retry-after"})
        if answer is not None
        else Reply.message(
            429, {"message": "Too Many Attempts. The upstream asked this key to wait."}
        )
    )
    retry = (b"retry-after", str(max(1, math.ceil(decision.left))).encode())
    return labelled(base.with_headers(retry), MISS, status_line("", detail="rate-limited"))


def from_fixtures(reply: Reply) -> Reply:
    return labelled(reply, MISS, status_line("", fwd="miss", detail="fallback-fixtures"))


def unserved(error: UpstreamError) -> Reply:
    text = str(error)
    message = {"message": f"{text[0].upper()}{text[1:]}, and no cached copy can be served."}
    status = status_line("", fwd="miss", detail=error.kind.replace("_", "-"))
    return labelled(Reply.message(error.status, message), MISS, status)


def bypass(reply: Reply, *, no_key: bool) -> Reply:
    detail = {"detail": "no-key"} if no_key else {}
    return labelled(reply, BYPASS, status_line("", fwd="bypass", **detail))


def failed_forward(error: UpstreamError) -> Reply:
    text = str(error)
    return Reply.message(error.status, {"message": f"{text[0].upper()}{text[1:]}."})


def passed(answer: Answer, drop: frozenset[str] | set[str] = frozenset()) -> Reply:
    """The upstream's answer as it is, less hop-by-hop headers."""
    encoding = answer.header("content-encoding") if answer.encoded else None
    headers: Headers = tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in forwardable(answer.headers)
        if name.lower() not in drop
    ) + (((b"content-encoding", encoding.encode("latin-1")),) if encoding else ())
    size = str(len(answer.body))
    said = answer.header("content-length")
    if not answer.body and answer.encoded and said is not None and said.isdecimal():
        size = said  # a HEAD's answer: the length of the body a GET would have
    return Reply(answer.status, (*headers, (b"content-length", size.encode())), answer.body)
