"""Mock mode's writes, kept per API key in SQLite: what each key changed of the fixtures.

A key starts from the default listing of the fixtures and sees only its own
writes. The database holds, per key, only what it changed: a lead it created
or updated (its whole JSON), or a tombstone for one it deleted; the listing is
the default fixture with those applied (`mock.keyed`). Keys are stored as a
keyed digest (`http.keys.state_key`), never as themselves.

One database serves every worker of a server: WAL, one `BEGIN IMMEDIATE`
transaction per write, a busy timeout for the others. Every commit also writes
a fresh random value into a small memory-mapped file beside the database, so a
worker learns that something changed with an 8-byte read (about 0.2 us, where
`PRAGMA data_version` costs 6) and reads the versions again only then.

All the SQLite work runs on one thread of its own (`run`): the event loop
never waits on a lock or a disk.
"""

from __future__ import annotations

import asyncio
import errno
import mmap
import os
import sqlite3
import stat
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..http.keys import use_state_secret
from .tables import APPLICATION_ID, FORMAT, SCHEMA, TABLES

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000


class StateError(Exception):
    """The state file cannot be used; the message is one line that names it."""


@dataclass(frozen=True, slots=True)
class KeyRow:
    """What the database holds of one key."""

    version: int
    next_id: int
    leads: int
    bytes: int


class State:
    """The database of every key's writes, and the signal that it changed."""

    def __init__(self, path: Path | None = None) -> None:
        # No path: a private folder of this server's, removed at close.
        self._folder = None if path is not None else tempfile.TemporaryDirectory(prefix="lp-")
        self.path = path if path is not None else Path(self._folder.name) / "state.sqlite3"  # type: ignore[union-attr]
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="leads-proxy-state")
        self._db = self._thread.submit(_connect, self.path).result()
        self._signal = _Signal(_changes(self.path))
        (secret,) = self._db.execute("SELECT value FROM meta WHERE name = 'key_secret'").fetchone()
        use_state_secret(secret)
        self.seen = b""  # not yet read: the first look reads the versions

    def changed(self) -> bool:
        """Whether any process committed a write since `seen` was taken (an 8-byte read)."""
        return self._signal.read() != self.seen

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` on the state's own thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, self._db)

    async def versions(self) -> dict[str, int]:
        """Every key that has written, with its version; `seen` is the signal read just
        before them, set only once they are here (so that a look meanwhile finds the
        state changed, and waits for them, rather than trusting the versions before)."""

        def read(db: sqlite3.Connection) -> tuple[bytes, dict[str, int]]:
            seen = self._signal.read()
            return seen, dict(db.execute("SELECT key, version FROM keys"))

        seen, versions = await self.run(read)
        self.seen = seen
        return versions

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in one transaction that holds the database's write lock, then signalled
        when it changed anything.

        Anything `work` raises rolls everything back and is raised here.
        """

        def transaction(db: sqlite3.Connection) -> T:
            before = db.total_changes
            with _immediate(db):
                done = work(db)
            if db.total_changes != before:
                self._signal.bump()
            return done

        return await self.run(transaction)

    async def forget(self, shown: str | None = None) -> tuple[int, int]:
        """Forget every key's writes and calls, or those of the keys with this
        fingerprint: (keys, leads) forgotten. Forgetting all forgets the webhooks too."""

        def forget(db: sqlite3.Connection) -> tuple[int, int]:
            keys, leads = db.execute(
                "SELECT count(*), coalesce(sum(leads), 0) FROM keys WHERE ?1 IS NULL OR shown = ?1",
                (shown,),
            ).fetchone()
            for table in ("leads", "calls"):
                db.execute(
                    f"DELETE FROM {table} WHERE key IN"  # noqa: S608 - one of two names
                    " (SELECT key FROM keys WHERE ?1 IS NULL OR shown = ?1)",
                    (shown,),
                )
            if shown is None:
                db.execute("DELETE FROM deliveries")
            db.execute("DELETE FROM keys WHERE ?1 IS NULL OR shown = ?1", (shown,))
            return int(keys), int(leads)

        return await self.write(forget)

    def close(self) -> None:
        self._thread.submit(self._db.close).result()
        self._thread.shutdown()
        self._signal.close()
        if self._folder is not None:
            self._folder.cleanup()


def state_problem(path: Path | None) -> str | None:
    """What keeps a state file from being used, as the server would open it; None if
    nothing (or no file given)."""
    if path is None:
        return None
    try:
        _connect(path).close()
        _Signal(_changes(path)).close()
    except StateError as error:
        return str(error)
    return None


def _changes(path: Path) -> Path:
    return path.with_name(path.name + "-changes")


def _connect(path: Path) -> sqlite3.Connection:
    """The database at `path`, made if new; StateError for a corrupt or foreign file."""
    try:
        # Phone numbers and variables are personal data: the file is this user's only
        # (its -wal and -shm files take its mode).
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(descriptor, 0o600)
        finally:
            os.close(descriptor)
    except OSError as error:
        raise StateError(f"{path}: cannot open the state file ({error.strerror})") from None
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _check(db, path)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at each checkpoint
        with _immediate(db):  # two workers may start at once: one makes it
            if _is_new(db):
                for statement in filter(str.strip, SCHEMA.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {FORMAT}")
                db.execute("INSERT INTO meta VALUES ('key_secret', randomblob(32))")
    except sqlite3.OperationalError as error:
        db.close()
        if "unable to open" in str(error):
            raise StateError(
                f"{path}: cannot open the state file ({error}; can its folder be written?)"
            ) from None
        raise StateError(f"{path}: not a leads-proxy state file ({error})") from None
    except sqlite3.DatabaseError as error:
        db.close()
        raise StateError(f"{path}: not a leads-proxy state file ({error})") from None
    except StateError:
        db.close()
        raise
    return db


def _is_new(db: sqlite3.Connection) -> bool:
    return bool(db.execute("PRAGMA application_id").fetchone()[0] == 0)


def _check(db: sqlite3.Connection, path: Path) -> None:
    (application,) = db.execute("PRAGMA application_id").fetchone()
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if application == 0:
        tables = db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        if tables == 0 and version == 0:
            return  # empty: made below
        raise StateError(f"{path}: a SQLite database of another program, not a state file")
    if application != APPLICATION_ID:
        raise StateError(f"{path}: a SQLite database of another program, not a state file")
    if version != FORMAT:
        raise StateError(
            f"{path}: a state file of format {version}; this leads-proxy reads format {FORMAT}"
        )
    for table, columns in TABLES.items():  # before anything is written to it
        db.execute(f"SELECT {columns} FROM {table} LIMIT 0")  # noqa: S608 - our names
    if db.execute("SELECT count(*) FROM meta WHERE name = 'key_secret'").fetchone()[0] != 1:
        raise StateError(f"{path}: a state file without its secret; remove it to start anew")


@contextmanager
def _immediate(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class _Signal:
    """Eight shared bytes that every commit sets to a new random value."""

    def __init__(self, path: Path) -> None:
        try:  # never through a link: it is written at every commit
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as error:
            why = "a link" if error.errno == errno.ELOOP else error.strerror
            raise StateError(f"{path}: cannot use the state's signal file ({why})") from None
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise StateError(f"{path}: cannot use the state's signal file (not a file)")
            if os.fstat(descriptor).st_size < 8:
                os.ftruncate(descriptor, 8)
            self._map = mmap.mmap(descriptor, 8)
        finally:
            os.close(descriptor)

    def read(self) -> bytes:
        return self._map[:8]

    def bump(self) -> None:
        self._map[:8] = os.urandom(8)

    def close(self) -> None:
        self._map.close()
