"""The start-up lines: what is served, how, and settings that do nothing here; the
open-files limit, raised at start; and the secret of shown key fingerprints."""

from __future__ import annotations

import logging
import os
import secrets
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..fixtures.files import FixtureSet
from ..proxy.upstream import UPSTREAM_CONNECTIONS
from ..settings.declarations import Settings
from ..settings.values import Mode, ReplayMode

RESERVED_FILES = 32  # open files kept back from connections, at least
SECRET_FILE = "fingerprint.key"  # noqa: S105 - a file's name, in the state folder: the key of shown fingerprints
SECRET_BYTES = 32

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


def files_kept_back(settings: Settings) -> tuple[int, int]:
    """What connections to clients leave of the open files: the upstream's connections
    kept back (proxy and record modes), and the files each client's request may hold
    (two with Redis: its own and one to Redis)."""
    upstream = 0 if settings.mode is Mode.MOCK else UPSTREAM_CONNECTIONS
    return upstream, 2 if settings.cache_url is not None else 1


def open_files_room(kept_back: int = 0, per_connection: int = 1) -> int | None:
    """The connections this process can hold open: its open-files limit, less the files
    open now, those kept back (`RESERVED_FILES`, and `kept_back` for the upstream), and
    shared by what each connection may hold. None where it cannot tell."""
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
    left = soft - open_now - max(RESERVED_FILES, soft // 10) - kept_back
    return max(1, left // per_connection)


def state_dir() -> Path:
    """The server's state folder: $XDG_STATE_HOME/leads-proxy (~/.local/state/...;
    a relative $XDG_STATE_HOME is ignored, as the XDG spec says)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or "")
    if not base.is_absolute():
        base = Path.home() / ".local" / "state"
    return base / "leads-proxy"


def fingerprint_secret(settings: Settings) -> bytes:
    """The deployment's key for shown fingerprints (`http.keys.use_secret`): from
    --key-secret when given (the same on every replica that shares a cache), else a
    random one made once and kept in the state folder (0600); where it cannot be kept,
    one for this run, said so."""
    if settings.key_secret is not None:
        return b"key-secret:" + settings.key_secret.get_secret_value().encode()
    path = state_dir() / SECRET_FILE
    try:
        return _kept_secret(path)
    except OSError as error:
        log.warning(
            "key fingerprints change at every start: no secret can be kept in %s (%s)",
            path.parent,
            error.strerror or error,
        )
        return secrets.token_bytes(SECRET_BYTES)


def _kept_secret(path: Path) -> bytes:
    """The secret in `path`, made there first if there is none (never following a link
    or reading more than the secret; a file made whole, then linked into place)."""
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = path.with_name(f".{SECRET_FILE}.{secrets.token_hex(8)}")  # a new file, or none
    descriptor = os.open(made, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(secrets.token_bytes(SECRET_BYTES))
    try:
        os.link(made, path)  # fails where another process put its own first
    except FileExistsError:
        pass
    finally:
        made.unlink()
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(f"{path} is not a regular file")
        secret: bytes = file.read(SECRET_BYTES + 1)
    if len(secret) != SECRET_BYTES:
        raise OSError(f"{path} does not hold a secret of {SECRET_BYTES} bytes")
    return secret
