"""A raw query string's one spelling: what the upstream is sent and caches key on."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from .memo import memo

# Bytes left as they are when a query is written out again; every other byte
# is percent-encoded (upper-case hex), so one spelling stands for each byte.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


_ENCODED = [chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in range(256)]

# What PHP's trim() strips (Laravel's TrimStrings), and nothing else: Python's
# strip() also takes \f, \x1c-\x1f, U+00A0, U+2003 and the other Unicode spaces.
PHP_TRIM = " \t\n\r\0\x0b"
_PHP_TRIM_BYTES = PHP_TRIM.encode()


def php_trim(value: str) -> str:
    """`value` as PHP's `trim()` leaves it: the query value Laravel validates."""
    return value.strip(PHP_TRIM)


def php_name(name: bytes) -> bytes:
    """A query name as PHP's parse_str registers it: cut at a NUL, leading spaces
    dropped, `.` and space in its base (before `[`) made `_`, and an unmatched `[`
    made `_` too (`per.page` and ` per_page` are `per_page` to Laravel)."""
    name = name.split(b"\0", 1)[0].lstrip(b" ")
    base, bracket, rest = name.partition(b"[")
    base = base.replace(b" ", b"_").replace(b".", b"_")
    if bracket and b"]" not in rest:
        return base + b"_" + rest
    return base + bracket + rest


def _encode(raw: bytes) -> str:
    return "".join([_ENCODED[byte] for byte in raw])


@memo(entries=4096, key_bytes=1024)
def canonical_query(query: str) -> str:
    """The one spelling of a raw query string that the upstream is sent and the cache keys on.

    Two raw queries get the same canonical form only where Laravel reads the
    same values from them: PHP's `parse_str` makes the same array of them, once
    its values are trimmed by TrimStrings:

    - `+` and `%20` are both a space, and any byte may be written `%XX` or as
      itself: each byte is decoded, then written one way (unreserved bytes as
      they are, the rest as upper-case `%XX`; an invalid escape like `%zz` is
      the literal `%zz` to PHP, so it is written `%25zz`);
    - a name is the one PHP registers (`php_name`: `per.page` is `per_page`);
    - a pair with an empty name (`=x`, `&&`) is ignored, as PHP ignores it;
    - a plain name given twice keeps its last value (`a=1&a=2` is `a=2`);
    - names are sorted (PHP keeps them in order of first appearance, which no
      filter of the listing depends on), but every occurrence of a name
      written with brackets (`ids[]=1&ids[]=2`, `a[x]=1`), and of any plain
      name sharing its base, is kept whole, in order: arrays are never merged
      or cut;
    - values are trimmed as Laravel's TrimStrings trims them, with PHP's `trim`
      (`php_trim`: only " \t\n\r\0\x0b"), so `per_page=%205%00` is `per_page=5`
      but `per_page=%0C5` stays apart; empty values are kept, never dropped
      (ConvertEmptyStringsToNull makes each one null; whether a null counts as
      absent is the controller's business).

    Memoized: apps poll the same few queries, and this is on every miss's path.
    """
    if not query:
        return ""
    raw = query.encode("latin-1")  # a lossless view of the bytes the client sent
    pairs: list[tuple[bytes, bytes, bytes]] = []  # (base name, name, value), decoded
    for part in raw.split(b"&"):
        name, _, value = part.partition(b"=")
        name = php_name(unquote_to_bytes(name.replace(b"+", b" ")))
        if not name:
            continue
        value = unquote_to_bytes(value.replace(b"+", b" ")).strip(_PHP_TRIM_BYTES)
        pairs.append((name.split(b"[", 1)[0], name, value))
    with_brackets = {base for base, name, _ in pairs if base != name}
    last: dict[bytes, int] = {}
    for index, (base, _, _) in enumerate(pairs):
        if base not in with_brackets:
            last[base] = index
    kept = [
        pair
        for index, pair in enumerate(pairs)
        if pair[0] in with_brackets or last[pair[0]] == index
    ]
    kept.sort(key=lambda pair: pair[0])  # stable: an array's items keep their order
    return "&".join(f"{_encode(name)}={_encode(value)}" for _, name, value in kept)
