"""What leads-proxy keeps in Redis: key names, the entry format, the Lua scripts.

Under the `leads-proxy:` prefix:

    leads-proxy:leads:<fingerprint>:<query>   an entry: a JSON line of metadata, then the body
    leads-proxy:lock:<fingerprint>:<query>    the fill lock (SET NX PX), holding a random token
    leads-proxy:cooldown:<fingerprint>        present while that API key must wait out a 429
    leads-proxy:pace                          the next free upstream slot, for --upstream-max-rps
    leads-proxy:purged[:<fingerprint>]        when everything (or one key) was last purged
    leads-proxy:purge                         a channel: "*" or a fingerprint, for every process

Fingerprints are HMACs of API keys under the shared --key-secret: nothing
here holds a key. Deadlines cross processes (and machines) as wall-clock
times; each process turns them back into its own monotonic clock on read.
"""

from __future__ import annotations

import json

from app.cache import CacheKey, Entry

PREFIX = "leads-proxy:"
PURGE_CHANNEL = PREFIX + "purge"
PACE_KEY = PREFIX + "pace"
PURGED = PREFIX + "purged"
TOMBSTONE_MS = 24 * 3600 * 1000  # longer than any entry lives
FORMAT = 1  # of the entry's metadata line

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
# after the copy was made: a purged answer never comes back.
RESTORE = """
local purged = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'),
                        tonumber(redis.call('GET', KEYS[3]) or '0'))
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
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local after = slot + interval
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.ceil((after - now) / 1000) + 1000)
return slot - now
"""


def entry_key(key: CacheKey) -> str:
    return PREFIX + key


def lock_key(key: CacheKey) -> str:
    return f"{PREFIX}lock:{key.fingerprint}:{key.split(':', 2)[2]}"


def cooldown_key(fingerprint: str) -> str:
    return f"{PREFIX}cooldown:{fingerprint}"


def entries_pattern(fingerprint: str | None) -> str:
    """A SCAN pattern for every entry, or for one API key's."""
    return f"{PREFIX}leads:{fingerprint}:*" if fingerprint else f"{PREFIX}leads:*"


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
    }
    return json.dumps(meta, separators=(",", ":")).encode() + b"\n" + entry.body


def decode_entry(raw: bytes, *, shift: float, hold_until: float) -> Entry | None:
    """The entry from its stored form, in this process's clock; None if it is not one."""
    line, _, body = raw.partition(b"\n")
    try:
        meta = json.loads(line)
        if meta.get("format") != FORMAT:
            return None
        return Entry.build(
            body,
            etag=meta["etag"].encode("latin-1"),
            content_type=meta["content_type"].encode("latin-1"),
            stored_at=meta["stored_at"] - shift,
            fresh_until=meta["fresh_until"] - shift,
            stale_until=meta["stale_until"] - shift,
            error_until=meta["error_until"] - shift,
            hot_until=hold_until,
        )
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeEncodeError):
        return None
