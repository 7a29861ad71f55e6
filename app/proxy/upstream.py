"""The one HTTP client to the real API: timeouts, pacing, and our own errors.

httpx's errors stop here: above this module a failed request is one of the
`UpstreamError`s of `proxy.exchange` (whose docstring draws the tree), and a
4xx is not an error but an answer, passed through as it is.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Mapping, Sequence

import httpx

from ..http.clock import Clock
from ..settings import defaults
from .exchange import (
    Answer,
    UpstreamBadStatus,
    UpstreamGarbage,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .pacing import FILL, OTHER, Pace, Pacer


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # The transport, not an httpx.Client: a client keeps a cookie jar, and
        # one jar shared by every API key's requests would carry cookies from
        # one key's answers into another key's requests. It also saves the
        # client's per-request work (cookies, auth, redirects, URL merging).
        self._transport = transport or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20)
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
        what it cannot, or need not, decode.
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
                    if decode:
                        content = await response.aread()
                    else:
                        content = await _raw_body(response)
                finally:
                    await response.aclose()
        except (httpx.TimeoutException, TimeoutError) as error:
            raise UpstreamTimeout(
                f"the upstream did not answer within {self.timeout:g} s"
            ) from error
        except httpx.ConnectError as error:
            raise UpstreamUnavailable(_connect_failure(error)) from error
        except (httpx.TransportError, httpx.DecodingError) as error:
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


async def _raw_body(response: httpx.Response) -> bytes:
    """The body as it came, still in its Content-Encoding. A transport may hand
    over an answer already read (httpx.MockTransport does): its bytes are those."""
    try:
        return b"".join([chunk async for chunk in response.aiter_raw()])
    except httpx.StreamConsumed:
        # `content` would be decoded; the stream still holds the bytes as they came.
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream):
            return b"".join([chunk async for chunk in stream])
        return b"".join(stream)
