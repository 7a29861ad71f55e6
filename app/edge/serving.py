"""The serving process's protocol, set up: its bounds, and where ready answers come from.

`configure` runs in the server process and in each worker before connections
come; `answer_ready_from` once the app is built.
"""

from __future__ import annotations

from . import refusals
from .asgi import FastLeads
from .guard import GuardedHttpTools
from .startup import open_files_room


def configure(
    max_head_bytes: int, head_seconds: float, kept_back: int = 0, per_connection: int = 1
) -> None:
    """Set the bounds (and the answers that tell them) for every connection to come:
    the head's, and the connections this process can hold open, as it stands now
    (`startup.open_files_room`)."""
    guarded = GuardedHttpTools
    guarded.max_head_bytes, guarded.head_seconds = max_head_bytes, head_seconds
    guarded.too_large = refusals.too_large(max_head_bytes)
    guarded.too_slow = refusals.too_slow(head_seconds)
    guarded.too_framed = refusals.too_framed(max_head_bytes)
    room = guarded.max_connections = open_files_room(kept_back, per_connection)
    guarded.full = refusals.full(room)


def answer_ready_from(leads: FastLeads) -> FastLeads:
    """Have every connection to come write `leads`' ready listings itself (edge.ready)."""
    GuardedHttpTools.leads = leads
    return leads
