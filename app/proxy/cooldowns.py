"""The API keys waiting out a 429 in this process: until when, and how each is shown."""

from __future__ import annotations

from ..http.keys import fingerprint_of
from .cache import CacheKey

SHOWN_LIMIT = 4096  # shown fingerprints remembered for the cooling list


class Cooldowns:
    """Cache fingerprint -> until (the proxy's clock), with each key's shown fingerprint."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._shown: dict[str, str] = {}  # cache fingerprint -> `http.keys` fingerprint

    def hold(self, key: CacheKey, until: float, authorization: str) -> None:
        """Hold the key back until `until`; `authorization` is the fill's header."""
        if len(self._shown) >= SHOWN_LIMIT:
            self._shown = {fp: self._shown[fp] for fp in self._until if fp in self._shown}
        self._until[key.fingerprint] = until
        self._shown[key.fingerprint] = shown(authorization)

    def left(self, fingerprint: str, now: float) -> float:
        """Seconds the key still waits (0: none), dropping a cooldown that is over."""
        until = self._until.get(fingerprint)
        if until is None:
            return 0.0
        if until <= now:
            del self._until[fingerprint]
            return 0.0
        return until - now

    def shown(self) -> dict[str, float]:
        """Shown fingerprint -> until, for the status page's cooling list."""
        return {self._shown.get(fp, "-"): until for fp, until in self._until.items()}

    def count(self, now: float) -> int:
        return sum(1 for until in self._until.values() if until > now)


def shown(authorization: str) -> str:
    """The shown fingerprint of the key in a fill's Authorization header."""
    return fingerprint_of(authorization.encode("latin-1")) or "-"
