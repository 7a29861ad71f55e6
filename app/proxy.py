"""Proxy mode: a per-key caching shield in front of the real leads listing.

For one API key and one query, the upstream sees at most one request per TTL:
concurrent misses share one request (single flight), answers past the TTL are
served while one background request refreshes them (stale-while-revalidate),
and when the upstream fails or rate-limits, the last good answer is served
(stale-if-error, 429 cooldown). Everything else under /api/ is forwarded as
it is, uncached; a successful write to a lead drops that key's listings.

With a shared layer (`Shared`, on Redis) the same holds across processes:
the in-process cache answers hits for a short while (`hold`), then asks Redis
for a newer copy; a fill takes Redis's lock so that one process asks the
upstream while the others wait for its entry; a 429 makes every process wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import re
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from app.cache import CacheKey, Clock, Entry, KeyMaker, MemoryStorage, State, normalize_query
from app.fixtures import etag_of
from app.mock import MockService
from app.record import Recorder
from app.reply import Headers, Incoming, Reply, bearer_token, etag_matches, hot_headers
from app.shared import Claim, Cooling, Shared, Wait
from app.stats import Stats
from app.upstream import Answer, Upstream, UpstreamError, UpstreamUnavailable, forwardable

log = logging.getLogger("leads_proxy")
T = TypeVar("T")
access = logging.getLogger("leads_proxy.access")

DEFAULT_COOLDOWN = 10.0  # seconds, for a 429 that says no Retry-After
LEAD_WRITES = re.compile(r"/api/user/(lead|leads/[^/]+)/?")
JSON = "application/json"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    ttl: float = 30.0
    stale_while_revalidate: float = 30.0
    stale_if_error: float = 600.0
    max_entry_bytes: int = 8 * 1024 * 1024


# What one trip to the upstream for the leads listing came to.
@dataclass(frozen=True, slots=True)
class Filled:
    entry: Entry
    stored: bool
    by_peer: bool = False  # another process asked the upstream; this one read its entry


@dataclass(frozen=True, slots=True)
class Passed:
    """An answer that is not cached but passed on as it is (401, 403, 404, 422...)."""

    answer: Answer


@dataclass(frozen=True, slots=True)
class Limited:
    answer: Answer | None  # None when another process was told to wait
    until: float


@dataclass(frozen=True, slots=True)
class Failed:
    error: UpstreamError


Outcome = Filled | Passed | Limited | Failed


def retry_after_seconds(value: str | None, *, wall: float) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - wall)


def cache_directives(incoming: Incoming) -> set[str]:
    header = incoming.header(b"cache-control")
    if header is None:
        return set()
    return {part.strip().split("=")[0].lower() for part in header.decode("latin-1").split(",")}


def _status_line(kind: str, **params: object) -> bytes:
    parts = ["leads-proxy", kind] if kind else ["leads-proxy"]
    parts += [f"{name.replace('_', '-')}={value}" for name, value in params.items()]
    return "; ".join(parts).encode()


class ProxyService:
    """Serves the leads listing through the cache; forwards the rest of /api/."""

    def __init__(
        self,
        *,
        upstream: Upstream,
        storage: MemoryStorage,
        keys: KeyMaker,
        config: ProxyConfig,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        fallback: MockService | None = None,
        recorder: Recorder | None = None,
        access_log: bool = True,
        shared: Shared | None = None,
        hold: float = 1.0,
        stats: Stats | None = None,
    ) -> None:
        self.upstream = upstream
        self.storage = storage
        self.keys = keys
        self.config = config
        self.shared = shared
        self.stats = stats or Stats()
        # How long a hit is answered from memory before Redis is asked for a
        # newer copy; alone, nothing newer can exist elsewhere.
        self._hold = hold if shared is not None else math.inf
        self._listener: asyncio.Task[None] | None = None
        self._lookups: dict[CacheKey, asyncio.Task[Entry | None]] = {}
        self._clock = clock
        self._wall = wall
        self._fallback = fallback
        self._recorder = recorder
        self._access_log = access_log
        self._flights: dict[CacheKey, asyncio.Task[Outcome]] = {}
        self._cooldowns: dict[str, float] = {}  # fingerprint -> until (clock)

    # --- the hot path -------------------------------------------------------

    def hot_reply(self, query: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Reply | None:
        """A fresh hit, answered with no other work; None for anything else."""
        found = hot_headers(headers, unless=b"cache-control")
        if found is None:
            return None
        authorization, if_none_match = found
        token = bearer_token(authorization)
        if token is None:
            return None
        key = self.keys.key(token, query.decode("latin-1"))
        entry = self.storage.get(key)
        now = self._clock()
        if entry is None or now >= entry.hot_until:
            return None
        self.stats.requests += 1
        reply = self._hit(entry, now, if_none_match)
        self._log("GET", "/api/user/leads", reply.status, "HIT", waited=None, key=key)
        return reply

    # --- the leads listing --------------------------------------------------

    async def answer(self, incoming: Incoming) -> Reply:
        self.stats.requests += 1
        started = self._clock()
        token = bearer_token(incoming.header(b"authorization"))
        if token is None:
            reply = await self._bypass(incoming)
            spent = self._clock() - started
            self._log(
                incoming.method, incoming.path, reply.status, "BYPASS", waited=spent, key=None
            )
            return reply
        key = self.keys.key(token, incoming.query.decode("latin-1"))
        reply, label, waited = await self._leads(incoming, key)
        self._log(incoming.method, incoming.path, reply.status, label, waited=waited, key=key)
        return reply

    async def _leads(self, incoming: Incoming, key: CacheKey) -> tuple[Reply, str, float | None]:
        """The reply, its X-Cache label, and how long it waited on the upstream."""
        directives = cache_directives(incoming)
        if_none_match = incoming.header(b"if-none-match")
        now = self._clock()
        entry = self.storage.get(key)
        if self.shared is not None and (entry is None or now >= entry.hot_until):
            if entry is not None and entry.state(now) is State.FRESH:
                self._look_up(self.shared, key, entry, now)  # ours meanwhile; Redis's next
            else:
                entry = await asyncio.shield(self._look_up(self.shared, key, entry, now))
        state = entry.state(now) if entry else None

        if entry is not None and "no-cache" not in directives:
            if state is State.FRESH:
                return self._hit(entry, now, if_none_match), "HIT", None
            if state is State.STALE:
                self._refresh(key, incoming)
                reply = self._stale(entry, now, if_none_match, "stale-while-revalidate")
                return reply, "STALE", None
        if "only-if-cached" in directives:
            message = {"message": "Nothing fresh is cached for this request (only-if-cached)."}
            status = _status_line("", detail="only-if-cached")
            return _labelled(Reply.message(504, message), b"MISS", status), "MISS", None

        if (left := self._cooldown_left(key.fingerprint, now)) > 0:
            if entry is not None and state is not None:
                return self._stale(entry, now, if_none_match, "rate-limited"), "STALE", None
            return self._too_many(left), "MISS", None

        outcome = await self._flight(key, incoming)
        waited = self._clock() - now
        reply, label = self._after(outcome, key, incoming, directives)
        return reply, label, waited

    def _after(
        self, outcome: Outcome, key: CacheKey, incoming: Incoming, directives: set[str]
    ) -> tuple[Reply, str]:
        """The reply once the upstream has been asked."""
        now = self._clock()
        if_none_match = incoming.header(b"if-none-match")
        if isinstance(outcome, Filled):
            self.stats.misses += 1
            fwd = "request" if "no-cache" in directives else "miss"
            stored = {"stored": "?1"} if outcome.stored else {}
            peer = {"detail": "filled-by-peer"} if outcome.by_peer else {}
            status = _status_line("", fwd=fwd, fwd_status=200, **stored, **peer)
            return self._send(outcome.entry, now, if_none_match, b"MISS", status), "MISS"
        if isinstance(outcome, Passed):
            self.stats.misses += 1
            answer = outcome.answer
            status = _status_line("", fwd="miss", fwd_status=answer.status)
            return _labelled(self._passed(answer), b"MISS", status), "MISS"

        # The upstream failed or rate-limited: the last good copy, if there is one.
        entry = self.storage.get(key)
        if entry is not None and entry.state(now) is not None:
            if isinstance(outcome, Limited):
                return self._stale(entry, now, if_none_match, "rate-limited"), "STALE"
            upstream_status = outcome.error.upstream_status
            reply = self._stale(entry, now, if_none_match, "stale-if-error", upstream_status)
            return reply, "STALE"
        if isinstance(outcome, Limited):
            return self._too_many(outcome.until - now, outcome.answer), "MISS"
        if self._fallback is not None:
            reply = self._fallback.reply(incoming)
            if reply.status in {200, 304}:
                self.stats.fallback_served += 1
                status = _status_line("", fwd="miss", detail="fallback-fixtures")
                return _labelled(reply, b"MISS", status), "MISS"
        error = outcome.error
        text = str(error)
        message = {"message": f"{text[0].upper()}{text[1:]}, and no cached copy can be served."}
        status = _status_line("", fwd="miss", detail=error.kind.replace("_", "-"))
        return _labelled(Reply.message(error.status, message), b"MISS", status), "MISS"

    def _flight(self, key: CacheKey, incoming: Incoming) -> asyncio.Future[Outcome]:
        """The one upstream request for this key, started now or already on its way.

        Waiters get it shielded: a client that goes away cancels only its own
        wait, never the request the others wait on.
        """
        task = self._flights.get(key)
        if task is None:
            headers = {
                "Authorization": (incoming.header(b"authorization") or b"").decode("latin-1"),
                "Accept": (incoming.header(b"accept") or b"application/json").decode("latin-1"),
            }
            task = _one_per_key(
                self._flights, key, self._fill(key, incoming.query.decode("latin-1"), headers)
            )
        else:
            self.stats.collapsed_waiters += 1
        return asyncio.shield(task)

    def _refresh(self, key: CacheKey, incoming: Incoming) -> None:
        """Start a background refresh, unless one is on its way or the key must wait."""
        if key in self._flights or self._cooldown_left(key.fingerprint, self._clock()) > 0:
            return
        self.stats.background_refreshes += 1
        self._flight(key, incoming)

    async def _fill(self, key: CacheKey, query: str, headers: dict[str, str]) -> Outcome:
        """The outcome of one fill: asked of the upstream here, or by another process."""
        shared = self.shared
        if shared is None:
            return await self._fetch(key, query, headers)
        token = shared.new_token()
        hold = self.upstream.timeout + 1.0  # a lock left by a dead process expires
        until = self._clock() + hold
        while True:
            claim = await shared.claim(key, token=token, hold=hold)
            if isinstance(claim, Cooling):
                return self._cool(key, claim.seconds)
            if claim is not Claim.TAKEN:
                break
            self.stats.shared_waits += 1
            hold_until = self._clock() + self._hold
            waited = await shared.wait_for_fill(key, until=until, hold_until=hold_until)
            if isinstance(waited, Entry):
                self.storage.put(key, waited)
                self._gauges()
                return Filled(waited, stored=True, by_peer=True)
            if isinstance(waited, Cooling):
                return self._cool(key, waited.seconds)
            if waited is not Wait.RELEASED:
                break  # Redis went away, or the other process is too slow: ask alone
            # The other process's fill failed: stand in with the last good copy
            # if there is one; if not, try to take the lock and ask ourselves.
            entry = self.storage.get(key)
            if entry is not None and entry.state(self._clock()) is not None:
                failed = "another process's request to the upstream failed"
                return Failed(UpstreamUnavailable(failed))
        try:
            outcome = await self._fetch(key, query, headers)
            if isinstance(outcome, Filled) and outcome.stored:
                await shared.put(key, outcome.entry)
            elif isinstance(outcome, Limited):
                await shared.cool_down(key.fingerprint, outcome.until - self._clock())
        finally:
            if claim is Claim.MINE:
                await shared.release(key, token)
        return outcome

    def _cool(self, key: CacheKey, seconds: float) -> Limited:
        """Another process was told to wait: this one waits as long."""
        until = self._clock() + seconds
        self._cooldowns[key.fingerprint] = until
        return Limited(None, until)

    def _look_up(
        self, shared: Shared, key: CacheKey, entry: Entry | None, now: float
    ) -> asyncio.Task[Entry | None]:
        """The one Redis lookup for this key, started now or already on its way."""
        task = self._lookups.get(key)
        if task is None:
            task = _one_per_key(self._lookups, key, self._from_shared(shared, key, entry, now))
        return task

    async def _from_shared(
        self, shared: Shared, key: CacheKey, entry: Entry | None, now: float
    ) -> Entry | None:
        """A newer copy from Redis if it has one; else ours, held in memory a while longer."""
        found = await shared.get(key, hold_until=now + self._hold)
        if found is not None and (entry is None or found.stored_at >= entry.stored_at):
            self.stats.shared_hits += 1
            self.storage.put(key, found)
            self._gauges()
            return found
        if entry is None or entry.state(now) is None:
            return entry
        # Redis lost it (restarted, evicted): ours refills it, unless another
        # process's fill or a purge got there first. Redis down: ours it is,
        # and no purge can come from anyone until Redis is back.
        if found is None and shared.available:
            await shared.restore(key, entry)
        held = entry.held(now + self._hold)
        self.storage.put(key, held)
        return held

    async def _fetch(self, key: CacheKey, query: str, headers: dict[str, str]) -> Outcome:
        self.stats.upstream_requests += 1
        try:
            answer = await self.upstream.fetch_leads(query, headers)
        except UpstreamError as error:
            self.stats.upstream_error(error.kind)
            log.warning("upstream: %s (key %s)", error, key.short)
            return Failed(error)
        now = self._clock()
        if answer.status == 200:
            self._record(query, answer.body, headers["Authorization"])
            entry = self._entry(answer, now)
            stored = len(answer.body) <= self.config.max_entry_bytes and self.storage.put(
                key, entry
            )
            self._gauges()
            return Filled(entry, stored)
        if answer.status == 429:
            self.stats.upstream_error("rate_limited")
            wait = retry_after_seconds(_header(answer, "retry-after"), wall=self._wall())
            until = now + (DEFAULT_COOLDOWN if wait is None else wait)
            self._cooldowns[key.fingerprint] = until
            log.warning("upstream: 429, key %s waits %.0f s", key.short, until - now)
            return Limited(answer, until)
        return Passed(answer)

    def _record(self, query: str, body: bytes, authorization: str) -> None:
        if self._recorder is None:
            return
        token = bearer_token(authorization.encode("latin-1")) or b""
        try:
            self._recorder.record(normalize_query(query), body, token)
        except OSError as error:  # a full disk must not stop the proxy from serving
            log.warning("not recorded: %s", error.strerror or error)

    def _entry(self, answer: Answer, now: float) -> Entry:
        config = self.config
        fresh_until = now + config.ttl
        return Entry.build(
            answer.body,
            etag=etag_of(answer.body),
            content_type=(_header(answer, "content-type") or JSON).encode("latin-1"),
            stored_at=now,
            fresh_until=fresh_until,
            stale_until=fresh_until + config.stale_while_revalidate,
            error_until=fresh_until + max(config.stale_if_error, config.stale_while_revalidate),
            hot_until=now + self._hold,
        )

    def _cooldown_left(self, fingerprint: str, now: float) -> float:
        until = self._cooldowns.get(fingerprint)
        if until is None:
            return 0.0
        if until <= now:
            del self._cooldowns[fingerprint]
            return 0.0
        return until - now

    # --- replies --------------------------------------------------------------

    def _hit(self, entry: Entry, now: float, if_none_match: bytes | None) -> Reply:
        self.stats.hits += 1
        ttl = math.ceil(entry.fresh_until - now)
        if if_none_match is not None:
            return self._send(entry, now, if_none_match, b"HIT", b"leads-proxy; hit; ttl=%d" % ttl)
        # Age and ttl are whole seconds: hits within the same second share one reply.
        stamp = (int(now - entry.stored_at), ttl)
        memo = entry.memo
        if memo and memo[0] == stamp:
            reply: Reply = memo[1]
            return reply
        reply = self._send(entry, now, None, b"HIT", b"leads-proxy; hit; ttl=%d" % ttl)
        memo[:] = [stamp, reply]
        return reply

    def _stale(
        self,
        entry: Entry,
        now: float,
        if_none_match: bytes | None,
        why: str,
        upstream_status: int | None = None,
    ) -> Reply:
        self.stats.stale_served += 1
        ttl = math.floor(entry.fresh_until - now)
        if why == "stale-while-revalidate":
            status = _status_line("hit", ttl=ttl, detail=why)
        else:
            fwd_status = {"fwd_status": upstream_status} if upstream_status else {}
            status = _status_line("", fwd="stale", **fwd_status, ttl=ttl, detail=why)
        return self._send(entry, now, if_none_match, b"STALE", status)

    def _send(
        self, entry: Entry, now: float, if_none_match: bytes | None, label: bytes, status: bytes
    ) -> Reply:
        age = (b"age", str(int(now - entry.stored_at)).encode())
        extra = (age, (b"cache-status", status), (b"x-cache", label))
        if if_none_match is not None and etag_matches(if_none_match, entry.etag):
            self.stats.not_modified += 1
            return Reply(304, ((b"etag", entry.etag), *extra))
        return Reply(200, entry.headers + extra, entry.body)

    def _too_many(self, left: float, answer: Answer | None = None) -> Reply:
        """A 429 that tells the remaining wait, whatever the upstream's answer said."""
        base = (
            self._passed(answer, drop={"retry-after"})
            if answer is not None
            else Reply.message(
                429, {"message": "Too Many Attempts. The upstream asked this key to wait."}
            )
        )
        retry = (b"retry-after", str(max(1, math.ceil(left))).encode())
        return _labelled(base.with_headers(retry), b"MISS", _status_line("", detail="rate-limited"))

    @staticmethod
    def _passed(answer: Answer, drop: frozenset[str] | set[str] = frozenset()) -> Reply:
        """The upstream's answer as it is, less hop-by-hop headers."""
        headers: Headers = tuple(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in forwardable(answer.headers)
            if name.lower() not in drop
        )
        length = (b"content-length", str(len(answer.body)).encode())
        return Reply(answer.status, (*headers, length), answer.body)

    async def _bypass(self, incoming: Incoming) -> Reply:
        """No key: forward, never cache."""
        self.stats.bypassed += 1
        reply = await self._forward(incoming)
        return _labelled(reply, b"BYPASS", _status_line("", fwd="bypass", detail="no-key"))

    # --- the rest of the API ----------------------------------------------------

    async def forward(self, incoming: Incoming) -> Reply:
        """Any other /api/ request: sent on as it is, answered as the upstream answers."""
        started = self._clock()
        self.stats.requests += 1
        self.stats.forwarded += 1
        reply = await self._forward(incoming)
        if 200 <= reply.status < 300 and self._is_lead_write(incoming):
            await self._invalidate(incoming)
        reply = _labelled(reply, b"BYPASS", _status_line("", fwd="bypass"))
        key = self._fingerprint(incoming)
        waited = self._clock() - started
        self._log(incoming.method, incoming.path, reply.status, "BYPASS", waited=waited, key=key)
        return reply

    async def _forward(self, incoming: Incoming) -> Reply:
        self.stats.upstream_requests += 1
        # /api/<rest> goes to <upstream>/<rest>; the /leads alias to the listing.
        path = incoming.path[4:] if incoming.path.startswith("/api/") else "/user/leads"
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in incoming.headers]
        try:
            answer = await self.upstream.request(
                incoming.method,
                path,
                query=incoming.query.decode("latin-1"),
                headers=forwardable(headers),
                body=incoming.body,
            )
        except UpstreamError as error:
            self.stats.upstream_error(error.kind)
            return Reply.message(error.status, {"message": f"{error}."})
        return self._passed(answer)

    def _is_lead_write(self, incoming: Incoming) -> bool:
        return incoming.method in WRITE_METHODS and bool(LEAD_WRITES.fullmatch(incoming.path))

    async def _invalidate(self, incoming: Incoming) -> None:
        token = bearer_token(incoming.header(b"authorization"))
        if token is not None:
            self.stats.invalidations += 1
            await self._purge(self.keys.fingerprint(token))

    def _fingerprint(self, incoming: Incoming) -> str | None:
        token = bearer_token(incoming.header(b"authorization"))
        return self.keys.fingerprint(token)[:8] if token else None

    # --- operating it ------------------------------------------------------------

    async def purge(self, api_key: str | None = None) -> tuple[int, bool]:
        """Drop every entry, or one API key's: how many, and whether every process was told."""
        fingerprint = self.keys.fingerprint(api_key.encode()) if api_key else None
        return await self._purge(fingerprint)

    async def _purge(self, fingerprint: str | None) -> tuple[int, bool]:
        local = self.storage.purge(fingerprint)
        self._gauges()
        if self.shared is None:
            return local, True
        shared = await self.shared.purge(fingerprint)
        return (local, False) if shared is None else (max(local, shared), True)

    def _on_purge(self, fingerprint: str | None) -> None:
        """Another process purged: drop our copies too."""
        self.storage.purge(fingerprint)
        self._gauges()

    def _gauges(self) -> None:
        stats = self.stats
        stats.entries = self.storage.entries
        stats.bytes = self.storage.bytes
        now = self._clock()
        stats.keys_cooling_down = sum(1 for until in self._cooldowns.values() if until > now)

    def snapshot(self) -> dict[str, Any]:
        self._gauges()
        totals = self.stats.totals()
        if self.shared is None:
            del totals["redis_up"], totals["redis_errors"], totals["redis_outages"]
            del totals["shared_hits"], totals["shared_waits"]
        else:
            totals["redis"] = "up" if totals["redis_up"] == totals["workers"] else "down"
        return totals

    def ready(self, within: float = 60.0) -> tuple[bool, str]:
        """Whether this process can serve: the upstream answered lately, or the cache can."""
        last = self.upstream.last_answer_at
        if last is not None and self._clock() - last < within:
            return True, "the upstream answered recently"
        if self.storage.entries:
            return True, "the cache holds answers to serve"
        return False, "no upstream answer yet and nothing cached"

    async def probe(self) -> None:
        """Ask the upstream anything, to learn whether it is reachable."""
        with contextlib.suppress(UpstreamError):
            await self.upstream.request("GET", "/user/leads", headers=[("Accept", JSON)])

    async def start(self) -> None:
        """Start listening for purges by other processes; say once if Redis is down."""
        if self.shared is not None:
            if await self.shared.ping():
                log.info("redis: %s shared by this process", self.shared.where)
            self._listener = asyncio.get_running_loop().create_task(
                self.shared.listen(self._on_purge)
            )

    async def close(self) -> None:
        for task in list(self._flights.values()):
            task.cancel()
        if self._listener is not None:
            self._listener.cancel()
        if self.shared is not None:
            await self.shared.close()
        await self.upstream.close()

    def _log(
        self,
        method: str,
        path: str,
        status: int,
        label: str,
        *,
        waited: float | None,
        key: CacheKey | str | None,
    ) -> None:
        if not self._access_log:
            return
        upstream = f"{waited * 1000:.1f}ms" if waited is not None else "-"
        short = key.short if isinstance(key, CacheKey) else (key or "-")
        access.info("%s %s %d %s upstream=%s key=%s", method, path, status, label, upstream, short)


def _one_per_key(
    tasks: dict[CacheKey, asyncio.Task[T]], key: CacheKey, work: Coroutine[Any, Any, T]
) -> asyncio.Task[T]:
    """Start `work` as the key's task in `tasks`, which it leaves when done."""
    task = asyncio.get_running_loop().create_task(work)
    tasks[key] = task

    def leave(done: asyncio.Task[T]) -> None:
        if tasks.get(key) is done:
            del tasks[key]

    task.add_done_callback(leave)
    return task


def _labelled(reply: Reply, label: bytes, status: bytes) -> Reply:
    return reply.with_headers((b"cache-status", status), (b"x-cache", label))


def _header(answer: Answer, name: str) -> str | None:
    return next((value for key, value in answer.headers if key.lower() == name), None)
