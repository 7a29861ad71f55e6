"""The settings of the HTTP server under the app: which one, its bounds, its workers.

Declared apart from the rest and mixed into `Settings`, each still one flag with
an env twin (`--server` is `LEADS_PROXY_SERVER`). Under granian, the head's
bounds are granian's own settings, which have ranges of their own: a value
outside them is refused at start rather than quietly changed.
"""

from __future__ import annotations

from pydantic import model_validator

from . import defaults
from .calls import CallSettings
from .field import setting
from .values import Server

# granian's own ranges: its read buffer (which a head must fit) and its head timeout.
GRANIAN_MIN_HEAD_BYTES = 8192
GRANIAN_MAX_HEADER_TIMEOUT = 60.0


class ServingSettings(CallSettings):
    """`--server` and the bounds it keeps on every connection."""

    server: Server = setting(
        Server.UVICORN,
        "the HTTP server under the app: uvicorn, or granian (a Rust HTTP core; faster "
        "for everything but ready listings, see docs/performance.md)",
    )
    max_header_bytes: int = setting(
        defaults.MAX_HEADER_BYTES,
        "the most bytes of a request line and headers; more answer 431",
        metavar="BYTES",
        ge=1024,
    )
    header_timeout: float = setting(
        defaults.HEADER_TIMEOUT,
        "seconds a request line and headers may take to arrive; longer answers 408",
        metavar="SECONDS",
        gt=0,
        le=300,
    )
    limit_concurrency: int = setting(
        900,
        "most connections and requests at once per process (and never more than its "
        "open-file limit leaves room for); more are answered a JSON 503",
        metavar="N",
        ge=1,
    )
    workers: int = setting(1, "worker processes", group="scale", metavar="N", ge=1, le=64)

    @model_validator(mode="after")
    def _in_granians_ranges(self) -> ServingSettings:
        if self.server is not Server.GRANIAN:
            return self
        if self.max_header_bytes < GRANIAN_MIN_HEAD_BYTES:
            raise ValueError(
                f"--max-header-bytes: granian reads a head into a buffer of at least "
                f"{GRANIAN_MIN_HEAD_BYTES} bytes; give {GRANIAN_MIN_HEAD_BYTES} or more, "
                "or --server uvicorn"
            )
        if self.header_timeout > GRANIAN_MAX_HEADER_TIMEOUT:
            raise ValueError(
                f"--header-timeout: granian waits at most {GRANIAN_MAX_HEADER_TIMEOUT:g} s "
                "for a head; give that or less, or --server uvicorn"
            )
        return self
