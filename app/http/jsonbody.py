"""The one way leads-proxy writes a JSON body, and the one way it reads a request's."""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

# JSON's own whitespace (RFC 8259): a body of only these is empty.
JSON_WHITESPACE = b" \t\n\r"


class BodyError(ValueError):
    """A request body that is not one JSON object of UTF-8 text; the message says why."""


class NotAnObject(BodyError):
    """A request body that is JSON, but not an object."""


def encode(data: Any) -> bytes:
    """The wire form of every JSON body leads-proxy makes: compact UTF-8."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def decode_object(body: bytes) -> dict[str, Any]:
    """A request body as the JSON object it holds; BodyError when it holds none.

    Stricter than `json.loads`, which takes a BOM, UTF-16 and UTF-32, NaN and
    Infinity, and escapes of lone surrogates (`"\\ud800"`, a string no UTF-8
    can write: it would fail later, wherever it is used). Deep nesting and
    numbers too long to read are refused too, never raised past here.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyError(f"The body is not UTF-8 text (byte {error.start}).") from None
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        encode(data)  # every string in it can be written as UTF-8
    except BodyError:
        raise
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise BodyError(
            f"The body is not JSON: {error.msg.removesuffix(' at')} at {where}."
        ) from None
    except RecursionError:
        raise BodyError("The body is JSON nested too deeply to read.") from None
    except UnicodeEncodeError:
        raise BodyError("The body holds a lone surrogate escape (like \\ud800).") from None
    except ValueError:  # an integer past Python's digit limit
        raise BodyError("The body holds a number too long to read.") from None
    if not isinstance(data, dict):
        raise NotAnObject(f"The body is a JSON {_kind(data)}, not an object.")
    return data


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: it would be written back as Infinity
        raise BodyError(f"The body holds a number too large for a float ({text[:20]}).")
    return number


def _no_constant(name: str) -> NoReturn:
    raise BodyError(f"The body is not JSON: {name} is not a JSON value.")


def _kind(data: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(data), "number")
