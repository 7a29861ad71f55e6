"""A body's Content-Encoding undone as it arrives, never past a byte bound.

`Inflater` is fed the bytes as they come off the wire and keeps what they
decode to. It stops, raising `TooLarge`, as soon as the bytes that came or
any stage of their decoding pass `limit`: a few hundred bytes of gzip that
would decode to gigabytes cost no more than `limit` (and a piece) of memory.
Each stage is decoded in pieces of at most `PIECE` bytes, so no stage of
`gzip, gzip` is ever held whole either.

Codings: `gzip` (and `x-gzip`), every member of a multi-member body (RFC 1952
allows several; zero bytes after a member are padding), `deflate` (zlib, or
the raw deflate some servers send instead), `identity`, and any stack of them
(`Content-Encoding: gzip, deflate` is undone right to left). Anything else, or
bytes that are not what their coding says, is a `BadCoding`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

PIECE = 64 * 1024  # the most one stage decodes at a time
KNOWN = ("gzip", "x-gzip", "deflate", "identity")
MAX_CODINGS = 4  # more stacked codings than any server applies is no body to decode


class BadCoding(ValueError):
    """The body is not what its Content-Encoding says, or the coding is unknown."""


class TooLarge(ValueError):
    """The body, as it came or decoded, is over the bound; reading stopped there."""

    def __init__(self, limit: int, *, decoded: bool) -> None:
        how = "once decoded" if decoded else "as it came"
        super().__init__(f"the body is over {limit:,} bytes {how}")
        self.limit = limit
        self.decoded = decoded


def codings(values: Sequence[str]) -> list[str]:
    """The codings named by Content-Encoding header values, in the order applied."""
    return [
        token.strip().lower() for value in values for token in value.split(",") if token.strip()
    ]


class _Stage:
    """One coding undone; `decode` yields pieces of at most PIECE bytes."""

    name = "identity"

    def decode(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), PIECE):
            yield data[start : start + PIECE]

    def end(self) -> None:
        """Raise BadCoding when the body stops inside the coding's stream."""


class _Zlib(_Stage):
    """A zlib stream (gzip or deflate): bounded pieces, pending output drained."""

    def __init__(self) -> None:
        self._stream: zlib._Decompress | None = None
        self.done = False  # the stream's end was seen

    def _run(self, data: bytes) -> Iterator[bytes]:
        stream = self._stream
        if stream is None:
            return
        while True:
            try:
                piece = stream.decompress(data, PIECE)
            except zlib.error as error:
                raise BadCoding(f"the body is not valid {self.name} ({error})") from None
            if piece:
                yield piece
            data = stream.unconsumed_tail
            # A full piece may leave output pending inside zlib even with no input left.
            if stream.eof or (not data and len(piece) < PIECE):
                return

    def end(self) -> None:
        if self._stream is not None and not self._stream.eof:
            raise BadCoding(f"the body ends inside its {self.name} stream")


class _Gzip(_Zlib):
    name = "gzip"

    def __init__(self) -> None:
        super().__init__()
        self._members = 0

    def decode(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._stream is None:
                if self._members:  # after a member: padding, or the next member
                    data = data.lstrip(b"\0")
                    if not data:
                        return
                self._stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
            yield from self._run(data)
            if not self._stream.eof:
                return
            data = self._stream.unused_data
            self._stream = None
            self._members += 1


class _Deflate(_Zlib):
    name = "deflate"

    def __init__(self) -> None:
        super().__init__()
        self._head = b""

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self.done:
            return  # bytes after the stream's end are ignored, as browsers do
        if self._stream is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            # RFC 9110 says zlib; some servers send raw deflate, told apart by the header
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._stream = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        yield from self._run(data)
        self.done = self._stream.eof

    def end(self) -> None:
        if self._head:
            raise BadCoding("the body ends inside its deflate stream")
        super().end()


_STAGES: dict[str, type[_Stage]] = {
    "gzip": _Gzip,
    "x-gzip": _Gzip,
    "deflate": _Deflate,
    "identity": _Stage,
}


class Inflater:
    """Decodes a body fed in chunks; `body()` is the whole of it, within `limit` bytes."""

    def __init__(self, content_encoding: Sequence[str], *, limit: int) -> None:
        names = codings(content_encoding)
        unknown = [name for name in names if name not in _STAGES]
        if unknown:
            raise BadCoding(
                f"the body's Content-Encoding {unknown[0][:32]!r} is not one of {KNOWN}"
            )
        if len(names) > MAX_CODINGS:
            raise BadCoding(f"the body names {len(names)} codings, more than {MAX_CODINGS}")
        # undone in the reverse of the order applied; identity changes nothing
        self._stages = [_STAGES[name]() for name in reversed(names) if name != "identity"]
        self.limit = limit
        self._came = 0
        self._made = [0] * len(self._stages)
        self._pieces: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes off the wire. Raises TooLarge or BadCoding."""
        self._came += len(chunk)
        if self._came > self.limit:
            raise TooLarge(self.limit, decoded=False)
        for piece in self._through(0, chunk):
            self._pieces.append(piece)
            self._size += len(piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages):
            yield data
            return
        for piece in self._stages[index].decode(data):
            self._made[index] += len(piece)
            if self._made[index] > self.limit:
                raise TooLarge(self.limit, decoded=True)
            yield from self._through(index + 1, piece)

    def body(self) -> bytes:
        """The decoded body, once every chunk is fed. Raises BadCoding on a cut stream."""
        for stage in self._stages:
            stage.end()
        body = b"".join(self._pieces)
        self._pieces = [body]
        return body


def inflated(data: bytes, content_encoding: Sequence[str], *, limit: int) -> bytes:
    """`data` decoded at once, within `limit` bytes (a body already read whole)."""
    inflater = Inflater(content_encoding, limit=limit)
    inflater.feed(data)
    return inflater.body()
