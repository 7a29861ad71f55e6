"""The one HTTP client to the real API: timeouts, pacing, bounds, and our own errors.

httpx's errors stop here: above this module a failed request is one of the
`UpstreamError`s of `proxy.exchange` (whose docstring draws the tree), and a
4xx is not an error but an answer, passed through as it is.

An answer's body is read as it comes, and decoded as it comes (`http.inflate`),
never past `MAX_ANSWER_BYTES`, as it came or decoded: a body over the bound is
an `UpstreamTooLarge` (a 502, or the stale copy where there is one), whatever
few bytes of gzip it came in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncGenerator, Mapping, Sequence

import httpx

from ..http.clock import Clock
from ..http.inflate import BadCoding, Inflater, TooLarge
from ..settings import defaults
from .exchange import (
    Answer,
    UpstreamBadStatus,
    UpstreamGarbage,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .pacing import FILL, OTHER, Pace, Pacer

# The most of an answer's body read, as it came or decoded: far above any page
# of leads (--max-entry-bytes decides what is cached), far below what hurts.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
UPSTREAM_CONNECTIONS = 100  # open at once, at most (each an open file: edge.startup)


class UpstreamTooLarge(UpstreamGarbage):
    """An answer over the byte bound, as it came or decoded: not read further."""


def _connect_failure(error: httpx.ConnectError) -> str:
    """What went wrong when no connection could be made, in words."""
    causes: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and len(causes) < 10:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(cause) for cause in causes)
    if any(isinstance(cause, socket.gaierror) for cause in causes) or "not known" in text:
        return "the upstream's host name could not be resolved"
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes) or "refused" in text:
        return "the upstream refused the connection"
    return f"no connection could be made to the upstream ({str(error) or type(error).__name__})"


class Upstream:
    """Requests to the real API under `base_url` (e.g. https://app.sondos-ai.com/api)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = defaults.UPSTREAM_TIMEOUT,
        max_rps: float | None = None,
        pacer: Pace | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        # The transport, not an httpx.Client: a client keeps a cookie jar, and
        # one jar shared by every API key's requests would carry cookies from
        # one key's answers into another key's requests. It also saves the
        # client's per-request work (cookies, auth, redirects, URL merging).
        self._transport = transport or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=UPSTREAM_CONNECTIONS, max_keepalive_connections=20)
        )
        self._timeouts = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._pacer = pacer or Pacer(max_rps, clock=clock)
        self._clock = clock
        self.last_answer_at: float | None = None

    async def close(self) -> None:
        await self._transport.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        decode: bool = True,
        priority: int = OTHER,
    ) -> Answer:
        """Send one request; raise an UpstreamError unless an HTTP answer came back.

        With `decode=False` the body is kept as it came, still in its
        Content-Encoding (which the answer keeps): a pass-through sends on
        what it cannot, or need not, decode. Either way the body is read no
        further than `max_answer_bytes`.
        """
        url = self.base_url + path + (f"?{query}" if query else "")
        await self._pacer.wait(priority)
        started = self._clock()
        request = httpx.Request(
            method, url, headers=headers, content=body, extensions=self._timeouts
        )
        try:
            # One deadline for the whole exchange: httpx's timeouts are per read,
            # and a body dripped a byte at a time would never trip them.
            async with asyncio.timeout(self.timeout):
                response = await self._transport.handle_async_request(request)
                try:
                    content = await self._body(response, decode=decode)
                finally:
                    await response.aclose()
        except TooLarge as error:
            how = "once decoded" if error.decoded else "as it came"
            raise UpstreamTooLarge(
                f"the upstream's answer is over {error.limit:,} bytes {how}, the most read",
                upstream_status=response.status_code,
            ) from None
        except BadCoding as error:
            raise UpstreamUnavailable(
                f"the upstream's answer could not be decoded: {error}",
                upstream_status=response.status_code,
            ) from None
        except (httpx.TimeoutException, TimeoutError) as error:
            raise UpstreamTimeout(
                f"the upstream did not answer within {self.timeout:g} s"
            ) from error
        except httpx.ConnectError as error:
            raise UpstreamUnavailable(_connect_failure(error)) from error
        except httpx.TransportError as error:
            raise UpstreamUnavailable(
                f"the upstream broke the connection ({type(error).__name__})"
            ) from error
        self.last_answer_at = self._clock()
        return Answer(
            response.status_code,
            list(response.headers.multi_items()),
            content,
            self.last_answer_at - started,
            encoded=not decode,
        )

    async def fetch_leads(self, query: str, headers: Mapping[str, str]) -> Answer:
        """GET /user/leads; a 5xx or a 200 that is not JSON is an UpstreamError."""
        answer = await self.request(
            "GET", "/user/leads", query=query, headers=list(headers.items()), priority=FILL
        )
        if answer.status >= 500:
            raise UpstreamBadStatus(
                f"the upstream answered {answer.status}", upstream_status=answer.status
            )
        if answer.status == 200:
            try:
                json.loads(answer.body)
            except ValueError as error:
                raise UpstreamGarbage(
                    "the upstream answered 200 with a body that is not JSON", upstream_status=200
                ) from error
            except RecursionError as error:  # JSON nested deeper than any listing is
                raise UpstreamGarbage(
                    "the upstream answered 200 with JSON nested too deep to read",
                    upstream_status=200,
                ) from error
        return answer

    async def _body(self, response: httpx.Response, *, decode: bool) -> bytes:
        """The body, decoded unless `decode` is False, within the byte bound.
        Raises TooLarge or BadCoding (http.inflate)."""
        encoding = response.headers.get_list("content-encoding") if decode else []
        inflater = Inflater(encoding, limit=self.max_answer_bytes)
        async with contextlib.aclosing(_raw_chunks(response)) as chunks:
            async for chunk in chunks:
                inflater.feed(chunk)
        return inflater.body()


async def _raw_chunks(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    """The body as it came, still in its Content-Encoding. A transport may hand
    over an answer already read (httpx.MockTransport does): its bytes are those."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    except httpx.StreamConsumed:
        pass
    else:
        return
    # `content` would be decoded; the stream still holds the bytes as they came.
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream):
        async for chunk in stream:
            yield chunk
    else:
        for chunk in stream:
            yield chunk
