"""The one way leads-proxy writes a JSON body."""

from __future__ import annotations

import json
from typing import Any


def encode(data: Any) -> bytes:
    """The wire form of every JSON body leads-proxy makes: compact UTF-8."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
