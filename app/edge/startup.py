"""The start-up lines: what is served, how, and settings that do nothing here; and the
open-files limit, raised at start."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..fixtures.files import FixtureSet
from ..settings.declarations import Settings
from ..settings.values import Mode, ReplayMode

RESERVED_FILES = 32  # open files kept back from connections, at least

log = logging.getLogger("leads_proxy")
RECORD_ONLY = ("anonymize", "record_as_default", "max_recordings")
NR_OPEN = Path("/proc/sys/fs/nr_open")  # Linux's most open files a process may have
SYSTEM_MOST = 1 << 20  # where the hard limit is unlimited and Linux's is not to be read


@dataclass(frozen=True)
class OpenFiles:
    """The soft limit on open files before and after `raise_open_files`, and why it
    stayed where it was if it did."""

    before: int
    now: int
    hard: int  # resource.RLIM_INFINITY (-1): unlimited
    failed: str = ""


def raise_open_files() -> OpenFiles | None:
    """Raise the soft limit on open files to the hard limit, as nginx's
    `worker_rlimit_nofile` does: the usual 1,024 is spent by a thousand half-sent
    requests. Workers inherit it. None where there is no such limit (Windows)."""
    if sys.platform == "win32":
        return None
    import resource  # noqa: PLC0415 - not on Windows

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:
        try:
            target = int(NR_OPEN.read_text())
        except (OSError, ValueError):
            target = SYSTEM_MOST
    if soft == resource.RLIM_INFINITY or soft >= target:
        return OpenFiles(soft, soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as error:
        return OpenFiles(soft, soft, hard, str(error))
    return OpenFiles(soft, target, hard)


def say_open_files(files: OpenFiles | None, room: int | None) -> None:
    """The start-up line of the open-files limit and the connections it leaves room for."""
    if files is None or room is None:
        log.info("open files: no limit; connections at once are bounded by --limit-concurrency")
        return
    if files.failed:
        how = f"could not raise it to the hard limit: {files.failed}"
    else:
        how = "the hard limit" if files.now == files.hard else "the system's most"
        if files.now != files.before:
            how += f"; raised from {files.before}"
    log.info(
        "open files: %d (%s); up to %d connections at once a process, more are answered 503",
        files.now,
        how,
        room,
    )


def say_what_serves(settings: Settings, fixtures: FixtureSet | None) -> None:
    """The start-up lines: what is served, how, and settings that do nothing here."""
    if settings.mode is not Mode.RECORD:
        for name in RECORD_ONLY:
            if name in settings.model_fields_set:
                log.warning(
                    "--%s does nothing in %s mode: it is a record mode setting",
                    name.replace("_", "-"),
                    settings.mode.value,
                )
    if settings.mode is not Mode.MOCK and settings.rate_limit is not None:
        log.warning("--mock-rate-limit does nothing in %s mode", settings.mode.value)
    if fixtures is not None:
        log.info("fixtures from %s: examples %s", settings.fixtures, ", ".join(fixtures.names()))
        for warning in fixtures.warnings:
            log.warning("%s", warning)
    if settings.mode is Mode.MOCK and fixtures is not None:
        log.info("mock mode; auth %s", settings.mock_auth.value)
        if (
            fixtures is not None
            and fixtures.recordings
            and settings.replay is not ReplayMode.EMULATED
        ):
            keys = {recording.key for recording in fixtures.recordings}
            log.info(
                "replaying %d recordings (%d keys); --replay %s",
                len(fixtures.recordings),
                len(keys),
                settings.replay.value,
            )
        if settings.rate_limit is not None:
            log.info("mock mode: at most %s per API key", settings.mock_rate_limit)
        if settings.cache_url is not None:
            log.info("mock mode: --cache-url is not used")
    else:
        _say_proxy(settings, fixtures)


def without_password(url: str) -> str:
    """A URL as it may be shown: a password in it (`user:PW@host`) as `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _say_proxy(settings: Settings, fixtures: FixtureSet | None) -> None:
    """The start-up lines of proxy and record modes."""
    log.info(
        "%s mode to %s; ttl %gs, stale-while-revalidate %gs, stale-if-error %gs%s",
        settings.mode.value,
        without_password(str(settings.upstream_url)),
        settings.ttl,
        settings.stale_while_revalidate,
        settings.stale_if_error,
        "; fallback to fixtures" if fixtures is not None else "",
    )
    if settings.admin_token is None:
        log.info(
            "journal and status views answer loopback clients only "
            "(--admin-token opens them to those who send it)"
        )
    if settings.cache_url is None and settings.workers > 1:
        log.warning(
            "%d workers without --cache-url: each caches on its own; "
            "add --cache-url to share one cache and one upstream budget",
            settings.workers,
        )


def open_files_room() -> int | None:
    """The connections this process can hold open: its open-files limit, less the files
    open now and those kept back (`RESERVED_FILES`). None where it cannot tell."""
    if sys.platform == "win32":
        return None
    import resource  # noqa: PLC0415 - not on Windows

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        open_now = sum(1 for _ in Path("/dev/fd").iterdir())
    except OSError:
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    return max(1, soft - open_now - max(RESERVED_FILES, soft // 10))
