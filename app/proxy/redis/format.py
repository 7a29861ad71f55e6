"""What leads-proxy keeps in Redis: key names, the entry format, the Lua scripts.

Under the `leads-proxy:` prefix:

    leads-proxy:leads:{<fingerprint>}:<query>  an entry: a JSON line of metadata, then the body
    leads-proxy:lock:{<fingerprint>}:<query>   the fill lock (SET NX PX), holding a random token
    leads-proxy:cooldown:{<fingerprint>}       present while that API key must wait out a 429
    leads-proxy:purged:{<fingerprint>}         when that API key's entries were last purged
    leads-proxy:purged                         when everything was last purged
    leads-proxy:pace                           the next free upstream slot, for --upstream-max-rps
    leads-proxy:purge                          a channel: "*" or a fingerprint, for every process

The braces are a Redis Cluster hash tag: every key of one API key is in one
slot, so each script touches one slot; the global purge time is read apart
and given to the script that needs it. Fingerprints are HMACs of API keys
under the shared --key-secret: nothing here holds a key. Deadlines cross
processes (and machines) as wall-clock times; each process turns them back
into its own monotonic clock on read.
"""

from __future__ import annotations

import gzip
import json
import math
import re

from ..cache import PRIVATE, CacheKey, Entry

PREFIX = "leads-proxy:"
PURGE_CHANNEL = PREFIX + "purge"
PACE_KEY = PREFIX + "pace"
PURGED = PREFIX + "purged"
TOMBSTONE_MS = 24 * 3600 * 1000  # longer than any entry lives
FORMAT = 2  # of the entry's metadata line (2: with the body's gzip form)

# CLAIM: the cooldown first (a key told to wait asks nobody), then the lock.
# Answers [0, 0] when the lock is ours, [1, ms] while another holds it,
# [2, ms] while the key cools down.
CLAIM = """
local wait = redis.call('PTTL', KEYS[1])
if wait > 0 then return {2, wait} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0, 0} end
return {1, redis.call('PTTL', KEYS[2])}
"""
# RESTORE: a copy this process holds goes back into a Redis that lost it
# (restarted, evicted), unless another fill got there first or a purge came
# after the copy was made: a purged answer never comes back. KEYS[2] is the
# API key's purge time; ARGV[4] the global one, read just before.
RESTORE = """
local purged = math.max(tonumber(ARGV[4]) or 0,
                        tonumber(redis.call('GET', KEYS[2]) or '0') or 0)
if tonumber(ARGV[2]) <= purged then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3]) then return 1 end
return 0
"""
# RELEASE: only the lock we took; one that expired and was taken again stays.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# PACE: the same spacing as the in-process Pacer, with the slot kept in Redis
# and Redis's own clock, so every process draws on one budget. Microseconds.
PACE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0') or 0)
if slot > now + 3600000000 then slot = now end  -- a slot an hour away is junk: start again
local after = slot + interval
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.ceil((after - now) / 1000) + 1000)
return slot - now
"""


def entry_key(key: CacheKey) -> str:
    return f"{PREFIX}leads:{{{key.fingerprint}}}:{_query(key)}"


def lock_key(key: CacheKey) -> str:
    return f"{PREFIX}lock:{{{key.fingerprint}}}:{_query(key)}"


def cooldown_key(fingerprint: str) -> str:
    return f"{PREFIX}cooldown:{{{fingerprint}}}"


def purged_key(fingerprint: str) -> str:
    return f"{PURGED}:{{{fingerprint}}}"


def entries_pattern(fingerprint: str | None) -> str:
    """A SCAN pattern for every entry, or for one API key's (braces match themselves)."""
    return f"{PREFIX}leads:{{{fingerprint}}}:*" if fingerprint else f"{PREFIX}leads:*"


def _query(key: CacheKey) -> str:
    return key.split(":", 2)[2]


def encode_entry(entry: Entry, *, shift: float) -> bytes:
    """An entry as stored: one JSON line of metadata (wall-clock times), then the body.

    `shift` turns this process's clock into wall-clock time (wall - clock).
    """
    meta = {
        "format": FORMAT,
        "stored_at": entry.stored_at + shift,
        "fresh_until": entry.fresh_until + shift,
        "stale_until": entry.stale_until + shift,
        "error_until": entry.error_until + shift,
        "etag": entry.etag.decode("latin-1"),
        "content_type": entry.content_type.decode("latin-1"),
        "cache_control": entry.cache_control.decode("latin-1"),
        "gzip": len(entry.gzipped or b""),  # the body's gzip form follows it, this long
    }
    line = json.dumps(meta, separators=(",", ":")).encode()
    return line + b"\n" + entry.body + (entry.gzipped or b"")


_TIMES = ("stored_at", "fresh_until", "stale_until", "error_until")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]+")
_ETAG = re.compile(r'(W/)?"[\x21\x23-\x7e]*"')


def decode_entry(raw: bytes, *, shift: float, hold_until: float) -> Entry | None:
    """The entry from its stored form, in this process's clock; None if it is not one.

    Everything is checked, since anything may be in Redis: the metadata is a
    JSON object of this format with finite times in order, an ETag and a
    content type that are single-line header values, the body is JSON
    (parsed here, once per read from Redis, never per hit) and its gzip form,
    if any, unpacks to it.
    """
    line, newline, body = raw.partition(b"\n")
    try:
        meta = json.loads(line)
        if not newline or not isinstance(meta, dict) or meta.get("format") != FORMAT:
            return None
        times = [meta[name] for name in _TIMES]
        etag, content_type = meta["etag"], meta["content_type"]
        if not all(isinstance(t, int | float) and math.isfinite(t) for t in times):
            return None
        if not times[0] <= times[1] <= times[2] <= times[3]:
            return None
        if not isinstance(etag, str) or not _ETAG.fullmatch(etag):
            return None
        if not isinstance(content_type, str) or not _HEADER_VALUE.fullmatch(content_type):
            return None
        cache_control = meta.get("cache_control", PRIVATE.decode())  # older entries: none
        if not isinstance(cache_control, str) or not _HEADER_VALUE.fullmatch(cache_control):
            return None
        size = meta["gzip"]
        if not isinstance(size, int) or not 0 <= size < len(body):
            return None
        gzipped = body[len(body) - size :] if size else None
        body = body[: len(body) - size]
        json.loads(body)
        if gzipped is not None and gzip.decompress(gzipped) != body:
            return None
    except (ValueError, KeyError, TypeError, RecursionError, OSError, EOFError):
        return None
    stored_at, fresh_until, stale_until, error_until = (t - shift for t in times)
    return Entry.build(
        body,
        etag=etag.encode("ascii"),
        content_type=content_type.encode("ascii"),
        stored_at=stored_at,
        fresh_until=fresh_until,
        stale_until=stale_until,
        error_until=error_until,
        hot_until=hold_until,
        gzipped=gzipped,
        cache_control=cache_control.encode("ascii"),
    )
