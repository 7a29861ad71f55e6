"""One page of the pull: asked, read and parsed within one deadline and one byte bound.

httpx's timeouts are per read, so a page dripped a byte at a time never trips
them: the page is read on a thread of its own, and the walk waits for it no
longer than the deadline (the thread, left behind, stops at its next read).
The body is decoded as it comes (`http.inflate`), never past the proxy's own
bound (`proxy.upstream.MAX_ANSWER_BYTES`, as it came or decoded), and parsed
JSON that nests deeper than MAX_DEPTH is no page.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from ..http.inflate import BadCoding, Inflater, TooLarge
from ..proxy.upstream import MAX_ANSWER_BYTES

MAX_DEPTH = 64  # levels of a page's JSON; a lead nests a handful


class PullError(Exception):
    """The pull cannot go on; the message says why (never the key)."""


class Retry(Exception):
    """This try of the page failed in a way the next try may not: no whole answer."""


Got = tuple[int, httpx.Headers, Any]  # status, headers, the parsed body of a 200


def get(client: httpx.Client, params: Mapping[str, int], *, deadline: float) -> Got:
    """GET /user/leads with `params`: its whole answer within `deadline` seconds, or Retry.
    Raises PullError for a 200 that is no page (too large, badly encoded, not JSON)."""
    outcome: list[Got | BaseException] = []
    done, abandoned = threading.Event(), threading.Event()
    page = params.get("page")

    def read() -> None:
        try:
            outcome.append(_read(client, params, abandoned))
        except BaseException as error:  # handed to the waiting walk, raised there
            outcome.append(error)
        finally:
            done.set()

    threading.Thread(target=read, name=f"pull page {page}", daemon=True).start()
    if not done.wait(deadline):
        abandoned.set()
        raise Retry(f"no whole answer within {deadline:g} s")
    got = outcome[0]
    if isinstance(got, BaseException):
        raise got
    return got


def _read(client: httpx.Client, params: Mapping[str, int], abandoned: threading.Event) -> Got:
    page = params.get("page")
    try:
        with client.stream("GET", "/user/leads", params=dict(params)) as response:
            if response.status_code != 200:
                return response.status_code, response.headers, None
            codings = response.headers.get_list("content-encoding")
            inflater = Inflater(codings, limit=MAX_ANSWER_BYTES)
            for chunk in _raw(response):
                if abandoned.is_set():  # nobody waits for it any more
                    raise Retry("abandoned")
                inflater.feed(chunk)
            body = inflater.body()
    except httpx.HTTPError as error:
        raise Retry(type(error).__name__) from None
    except TooLarge as error:
        how = "once decoded" if error.decoded else "as it came"
        raise PullError(
            f"page {page}: the answer is over {error.limit:,} bytes {how}, the most read"
        ) from None
    except BadCoding as error:
        raise PullError(f"page {page}: {error}") from None
    return 200, response.headers, _parsed(body, page)


def _parsed(body: bytes, page: object) -> Any:
    deep = f"page {page}: the answer's JSON nests deeper than {MAX_DEPTH} levels"
    try:
        answer = json.loads(body)
    except ValueError:
        raise PullError(f"page {page}: the answer is not JSON") from None
    except RecursionError:
        raise PullError(deep) from None
    if too_deep(answer, MAX_DEPTH):
        raise PullError(deep)
    return answer


def too_deep(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest in `value` deeper than `limit` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return False


def _raw(response: httpx.Response) -> Iterator[bytes]:
    """The body as it came. A transport may hand over an answer already read
    (httpx.MockTransport does): the stream still holds the bytes as they came."""
    try:
        yield from response.iter_raw()
    except httpx.StreamConsumed:
        stream = response.stream
        if isinstance(stream, httpx.SyncByteStream):
            yield from stream
