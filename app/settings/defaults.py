"""The defaults of the settings that the core's own constructors share.

Plain constants, declared once: the settings (`settings.declarations`) and
the objects a test builds without settings (`ProxyConfig()`, `Upstream(url)`,
`Shared(url)`, the request-head guard) take them from here.
"""

from pathlib import Path

TTL = 30.0  # seconds an answer is fresh
STALE_WHILE_REVALIDATE = 30.0
STALE_IF_ERROR = 600.0
MAX_ENTRY_BYTES = 8 * 1024 * 1024
MAX_COOLDOWN = 3600.0
UPSTREAM_TIMEOUT = 10.0
CACHE_TIMEOUT = 0.25  # a Redis call
LOCAL_TTL = 1.0  # a hit from memory before Redis is asked for a newer copy
MAX_HEADER_BYTES = 64 * 1024
HEADER_TIMEOUT = 10.0
MAX_JOURNAL_SIZE = 1_000_000  # requests the journal may keep, and so a read may ask for


def bundled_fixtures_dir() -> Path:
    """The fixtures that ship with leads-proxy: inside the wheel, or the repo's."""
    package_dir = Path(__file__).resolve().parent.parent
    inside_wheel = package_dir / "_bundled_fixtures"
    if inside_wheel.is_dir():
        return inside_wheel
    return package_dir.parent / "fixtures"
