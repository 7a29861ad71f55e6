"""Proxy mode against compression bombs: the listing's body is decoded as it comes and
never past the byte bound (RSS read from /proc), an answer over it is a JSON 502, or
the stale copy where there is one; legal multi-member gzip is decoded whole."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from leads_proxy.proxy.upstream import MAX_ANSWER_BYTES
from tests.hostile_upstream import MIB, Asked, Hostile, HostileUpstream, bomb, two_members
from tests.support import AUTH, Launch, Server, clean_env

LISTING = json.dumps([{"id": number, "status": "created"} for number in range(500)]).encode()


@pytest.fixture
def answers() -> list[Hostile]:
    """What the upstream answers next: the last one given, again and again."""
    return [Hostile(body=LISTING)]


@pytest.fixture
def proxy(launch: Launch, answers: list[Hostile]) -> Iterator[Server]:
    def script(_asked: Asked) -> Hostile:
        return answers[-1]

    upstream = HostileUpstream(script)
    yield launch("--mode", "proxy", "--upstream-url", upstream.url, env=clean_env())
    upstream.stop()


def memory_kib(server: Server, field: str) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1])


def bombed(encoding: str) -> bytes:
    if encoding == "deflate":
        return bomb(320 * MIB, wbits=zlib.MAX_WBITS)
    if encoding == "gzip, gzip":
        return gzip.compress(bomb(320 * MIB))
    return bomb(320 * MIB)


@pytest.mark.parametrize(
    "encoding", ["gzip", "gzip, gzip", "deflate"], ids=["gzip", "gzip-gzip", "deflate"]
)
def test_proxy__a_compression_bomb_is_a_502_and_costs_no_more_than_the_bound(
    proxy: Server, answers: list[Hostile], encoding: str
) -> None:
    packed = bombed(encoding)
    answers.append(Hostile(body=packed, headers=(("Content-Encoding", encoding),)))
    before = memory_kib(proxy, "VmHWM")
    response = proxy.client.get("/api/user/leads", headers=AUTH)
    assert response.status_code == 502, response.text[:200]
    message = response.json()["message"]
    assert f"over {MAX_ANSWER_BYTES:,} bytes once decoded" in message
    grown = memory_kib(proxy, "VmHWM") - before
    assert grown < 3 * MAX_ANSWER_BYTES // 1024, f"{grown} KiB for {len(packed)} bytes"
    assert proxy.process.poll() is None
    assert "Traceback" not in proxy.log()


def test_proxy__a_bomb_after_a_good_answer_serves_the_stale_copy(
    proxy: Server, answers: list[Hostile]
) -> None:
    assert proxy.client.get("/api/user/leads", headers=AUTH).content == LISTING
    answers.append(Hostile(body=bombed("gzip"), headers=(("Content-Encoding", "gzip"),)))
    again = proxy.client.get("/api/user/leads", headers={**AUTH, "Cache-Control": "no-cache"})
    assert again.status_code == 200
    assert again.content == LISTING
    assert "stale" in again.headers["x-cache"].lower()


def test_proxy__an_uncompressed_body_over_the_bound_is_the_same_502(
    proxy: Server, answers: list[Hostile]
) -> None:
    answers.append(Hostile(body=b'{"data": []}' + b" " * MAX_ANSWER_BYTES))
    response = proxy.client.get("/api/user/leads", headers=AUTH)
    assert response.status_code == 502
    assert f"over {MAX_ANSWER_BYTES:,} bytes as it came" in response.json()["message"]


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (two_members(LISTING), "gzip"),
        (gzip.compress(gzip.compress(LISTING)), "gzip, gzip"),
        (zlib.compress(LISTING), "deflate"),
    ],
    ids=["two-gzip-members", "gzip-gzip", "deflate"],
)
def test_proxy__legal_codings_are_decoded_whole(
    proxy: Server, answers: list[Hostile], encoded: bytes, encoding: str
) -> None:
    answers.append(Hostile(body=encoded, headers=(("Content-Encoding", encoding),)))
    response = proxy.client.get("/api/user/leads", headers={**AUTH, "Accept-Encoding": "identity"})
    assert response.status_code == 200, response.text
    assert response.content == LISTING
