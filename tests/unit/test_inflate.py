"""Bounded decoding: every coding and stack of them, stopped at the byte bound."""

from __future__ import annotations

import gzip
import zlib

import pytest

from leads_proxy.http.inflate import PIECE, BadCoding, Inflater, TooLarge, codings, inflated

BODY = b'{"data": [' + b'{"id": 1, "status": "created"}, ' * 2000 + b"{}]}"
MIB = 1024 * 1024


def deflated(data: bytes, *, raw: bool = False) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def fed(data: bytes, encoding: list[str], *, limit: int = 10 * MIB, size: int = 7) -> bytes:
    """Fed in chunks of `size` bytes, as a slow connection would hand them over."""
    inflater = Inflater(encoding, limit=limit)
    for start in range(0, len(data), size):
        inflater.feed(data[start : start + size])
    return inflater.body()


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (BODY, []),
        (BODY, ["identity"]),
        (gzip.compress(BODY), ["gzip"]),
        (gzip.compress(BODY), ["X-Gzip"]),
        (deflated(BODY), ["deflate"]),
        (deflated(BODY, raw=True), ["deflate"]),
        (gzip.compress(BODY[:100]) + gzip.compress(BODY[100:]), ["gzip"]),
        (gzip.compress(BODY) + b"\0" * 10, ["gzip"]),
        (gzip.compress(gzip.compress(BODY)), ["gzip, gzip"]),
        (gzip.compress(deflated(BODY)), ["deflate", "gzip"]),
        (gzip.compress(BODY), ["identity, gzip"]),
        (b"", ["gzip"]),
    ],
    ids=["none", "identity", "gzip", "x-gzip", "zlib-deflate", "raw-deflate", "two-members",
         "zero-padding", "gzip-gzip", "two-headers", "identity-gzip", "empty"],
)  # fmt: skip
def test_inflater__every_coding_and_stack_decodes_whole(
    encoded: bytes, encoding: list[str]
) -> None:
    expected = b"" if not encoded else BODY
    assert fed(encoded, encoding) == expected
    assert fed(encoded, encoding, size=len(encoded) or 1) == expected
    assert inflated(encoded, encoding, limit=10 * MIB) == expected


@pytest.mark.parametrize(
    "encoding", [["gzip"], ["deflate"], ["gzip, gzip"]], ids=["gzip", "deflate", "gzip-gzip"]
)
def test_inflater__a_bomb_stops_at_the_bound_holding_no_more(encoding: list[str]) -> None:
    bomb = b"\0" * (256 * MIB)
    packed = gzip.compress(bomb, 9) if encoding == ["gzip"] else deflated(bomb)
    if encoding == ["gzip, gzip"]:
        packed = gzip.compress(gzip.compress(bomb, 9), 9)
    inflater = Inflater(encoding, limit=MIB)
    with pytest.raises(TooLarge, match="over 1,048,576 bytes once decoded") as raised:
        inflater.feed(packed)
    assert raised.value.decoded
    assert inflater._size <= MIB + PIECE  # what was kept before it stopped


def test_inflater__the_bytes_as_they_came_have_the_same_bound() -> None:
    inflater = Inflater([], limit=100)
    inflater.feed(b"x" * 100)
    with pytest.raises(TooLarge, match="as it came"):
        inflater.feed(b"x")
    assert inflated(b"x" * 100, ["gzip, identity"][1:], limit=100) == b"x" * 100


@pytest.mark.parametrize(
    ("encoded", "encoding", "says"),
    [
        (b"not gzip at all", ["gzip"], "not valid gzip"),
        (gzip.compress(BODY)[:-20], ["gzip"], "ends inside its gzip stream"),
        (gzip.compress(BODY) + b"garbage", ["gzip"], "not valid gzip"),
        (b"x", ["deflate"], "ends inside its deflate stream"),
        (b"\xff\xff\xff\xff", ["deflate"], "not valid deflate"),
        (BODY, ["br"], "'br' is not one of"),
        (BODY, ["gzip"] * 5, "5 codings, more than 4"),
        (BODY, ["x" * 10_000], "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is not"),
    ],
    ids=["not-gzip", "cut-gzip", "garbage-member", "cut-deflate", "bad-deflate", "unknown",
         "too-many", "long-name"],
)  # fmt: skip
def test_inflater__what_is_not_its_coding_is_said(
    encoded: bytes, encoding: list[str], says: str
) -> None:
    with pytest.raises(BadCoding, match=says):
        fed(encoded, encoding)


def test_codings__names_from_every_header_value_in_order() -> None:
    assert codings(["GZIP , deflate", " ", "br"]) == ["gzip", "deflate", "br"]
