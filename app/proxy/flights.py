"""One task per key: concurrent askers share the task on its way, and the key is
free again the moment it is done."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from .cache import CacheKey

T = TypeVar("T")


def one_per_key(
    tasks: dict[CacheKey, asyncio.Task[T]], key: CacheKey, work: Coroutine[Any, Any, T]
) -> asyncio.Task[T]:
    """Start `work` as the key's task in `tasks`, which it leaves when done."""
    task = asyncio.get_running_loop().create_task(work)
    tasks[key] = task

    def leave(done: asyncio.Task[T]) -> None:
        if tasks.get(key) is done:
            del tasks[key]

    task.add_done_callback(leave)
    return task
