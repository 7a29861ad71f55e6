"""The clock the core is given: seconds, monotonic unless a test says otherwise."""

from __future__ import annotations

from collections.abc import Callable

Clock = Callable[[], float]
