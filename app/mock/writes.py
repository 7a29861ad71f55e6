"""Creating, updating and deleting leads in mock mode, each in one transaction.

Every operation is a key's (`http.keys.state_key`), on the state the key has
built from the default fixture (`mock.state`, `mock.keyed`), and answers as
the platform does: the messages of its documentation, Laravel's status codes.
The bodies arrive validated (`mock.bodies`); what needs the state (the lead,
the campaign, a phone number already in the campaign) is checked here, in the
same transaction as the write.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..fixtures.files import FixtureSet
from ..http.clock import Clock
from ..http.jsonbody import JSON_WHITESPACE, BodyError, NotAnObject, decode_object, encode
from ..http.reply import Reply
from .answers import STATE
from .bodies import MAX_VARIABLES, Invalid, LeadChanges, NewLead
from .calling import TIMESTAMP, Calls
from .state import KeyRow, State


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of what writes may hold: per key, and for the whole state."""

    key_leads: int = 10_000  # leads a key has created, changed or deleted
    key_bytes: int = 16 * 1024 * 1024  # the JSON of its leads
    keys: int = 1_000  # keys that have written
    state_bytes: int = 256 * 1024 * 1024


T = TypeVar("T")

DEFAULT_LIMITS = Limits()
MAX_KEY_LEADS, MAX_KEY_BYTES = DEFAULT_LIMITS.key_leads, DEFAULT_LIMITS.key_bytes
MAX_KEYS, MAX_STATE_BYTES = DEFAULT_LIMITS.keys, DEFAULT_LIMITS.state_bytes
LEAD_NOT_FOUND = Reply.message(404, {"message": "Lead not found"}, STATE)
CAMPAIGN_NOT_FOUND = Reply.message(404, {"message": "Campaign not found"}, STATE)
UPDATED = Reply.message(200, {"message": "Lead updated successfully"}, STATE)
DELETED = Reply.message(200, {"message": "Lead deleted successfully"}, STATE)


def read_body(body: bytes, parse: Callable[[dict[str, Any]], T]) -> T | Reply:
    """A write's body as `parse` makes it, or the answer that refuses it: a 400 for a
    body that is not JSON, a 422 for one that is not an object or not valid. An empty
    body is an empty object (each required field then says so, as Laravel does)."""
    try:
        data = decode_object(body) if body.strip(JSON_WHITESPACE) else {}
    except NotAnObject as error:
        return Reply.message(422, {"message": str(error)}, STATE)
    except BodyError as error:
        return Reply.message(400, {"message": str(error)}, STATE)
    try:
        return parse(data)
    except Invalid as error:
        return Reply.message(422, error.body(), STATE)


class Refused(Exception):
    """A write that cannot be made: its answer, and nothing changed."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        super().__init__(reply.status)


class Writes:
    """The lead writes of every key, on one `State`."""

    def __init__(
        self,
        state: State,
        fixtures: FixtureSet,
        *,
        wall: Clock = time.time,
        limits: Limits = Limits(),
        calls: Calls | None = None,
    ) -> None:
        self.state = state
        self.calls = calls  # the simulated dialer, when it runs: it is told of each write
        self.limits = limits
        self.campaigns = fixtures.campaigns
        self.wall = wall
        default = fixtures.default.leads
        self._default = {lead["id"]: lead for lead in default}
        ids = [lead["id"] for lead in default]
        ids += [contact["id"] for lead in default for contact in lead["secondary_contacts"]]
        self._first_id = max(ids, default=0) + 1
        self._phones: dict[tuple[int, str], list[int]] = defaultdict(list)
        for lead in default:
            self._phones[lead["campaign_id"], lead["phone_number"]].append(lead["id"])

    async def create(self, key: str, shown: str, new: NewLead) -> Reply:
        """`POST /api/user/lead`: the new lead, `created`, with ids above every id the key has."""
        campaign = self.campaigns.get(new.campaign_id)
        if campaign is None:
            return CAMPAIGN_NOT_FOUND
        return await self._write(lambda db: self._create(db, key, shown, new, campaign))

    async def update(self, key: str, shown: str, lead_id: int, changes: LeadChanges) -> Reply:
        """`PUT /api/user/leads/{id}`: only the fields given change; variables are merged."""
        return await self._write(lambda db: self._update(db, key, shown, lead_id, changes))

    async def delete(self, key: str, shown: str, lead_id: int) -> Reply:
        """`DELETE /api/user/leads/{id}`: gone for good (its id is never given again)."""
        return await self._write(lambda db: self._delete(db, key, shown, lead_id))

    async def _write(self, work: Any) -> Reply:
        try:
            reply: Reply = await self.state.write(work)
        except Refused as refused:
            return refused.reply
        return reply

    def _create(
        self, db: sqlite3.Connection, key: str, shown: str, new: NewLead, campaign: dict[str, Any]
    ) -> Reply:
        row = self._key(db, key, shown)
        if not new.allow_duplicate and self._taken(db, key, new.campaign_id, new.phone_number):
            raise Refused(_duplicate(new.phone_number))
        now = self._now(db)
        first, after = row.next_id, row.next_id + 1 + len(new.secondary_contacts)
        ids = iter(range(first, after))
        lead = {
            "id": next(ids),
            "campaign_id": new.campaign_id,
            "phone_number": new.phone_number,
            "variables": new.variables,
            "status": "created",
            "created_at": now,
            "updated_at": now,
            "campaign": {"id": campaign["id"], "name": campaign["name"]},
            "secondary_contacts": [
                {
                    "id": next(ids),
                    "phone_number": contact.phone_number,
                    "variables": contact.variables,
                    "status": "created",
                    "created_at": now,
                    "updated_at": now,
                }
                for contact in new.secondary_contacts
            ],
        }
        self._put(db, key, row, lead, next_id=after)
        if self.calls is not None:
            self.calls.track(db, key, lead)
        data = encode({"message": "Lead created successfully", "data": lead})
        return Reply.json(200, data, STATE)

    def _update(
        self, db: sqlite3.Connection, key: str, shown: str, lead_id: int, changes: LeadChanges
    ) -> Reply:
        row = self._key(db, key, shown)
        lead = self._lead(db, key, lead_id)
        if lead is None:
            raise Refused(LEAD_NOT_FOUND)
        if changes.campaign_id is not None:
            campaign = self.campaigns.get(changes.campaign_id)
            if campaign is None:
                raise Refused(CAMPAIGN_NOT_FOUND)
            lead["campaign_id"] = campaign["id"]
            lead["campaign"] = {"id": campaign["id"], "name": campaign["name"]}
        if changes.phone_number is not None:
            lead["phone_number"] = changes.phone_number
        if changes.status is not None:
            lead["status"] = changes.status
        if changes.variables is not None:
            lead["variables"] = {**lead["variables"], **changes.variables}
            if len(lead["variables"]) > MAX_VARIABLES:
                raise Refused(_too_many_variables())
        lead["updated_at"] = self._now(db)
        self._put(db, key, row, lead)
        if self.calls is not None and changes.status is not None:
            self.calls.track(db, key, lead)  # `created` calls it (again); the others end it
        return UPDATED

    def _delete(self, db: sqlite3.Connection, key: str, shown: str, lead_id: int) -> Reply:
        row = self._key(db, key, shown)
        if self._lead(db, key, lead_id) is None:
            raise Refused(LEAD_NOT_FOUND)
        self._put(db, key, row, {"id": lead_id}, tombstone=True)
        if self.calls is not None:
            self.calls.untrack(db, key, lead_id)
        return DELETED

    def _key(self, db: sqlite3.Connection, key: str, shown: str) -> KeyRow:
        found = db.execute(
            "SELECT version, next_id, leads, bytes FROM keys WHERE key = ?", (key,)
        ).fetchone()
        if found is not None:
            # The fingerprint follows the deployment's secret, which may have changed.
            db.execute("UPDATE keys SET shown = ?1 WHERE key = ?2 AND shown != ?1", (shown, key))
            return KeyRow(*found)
        if db.execute("SELECT count(*) FROM keys").fetchone()[0] >= self.limits.keys:
            raise Refused(_full(f"writes of {self.limits.keys:,} keys"))
        db.execute("INSERT INTO keys VALUES (?, ?, 0, ?, 0, 0)", (key, shown, self._first_id))
        return KeyRow(0, self._first_id, 0, 0)

    def _lead(self, db: sqlite3.Connection, key: str, lead_id: int) -> dict[str, Any] | None:
        """The key's lead as it is now (a copy to change), or None."""
        found = db.execute(
            "SELECT body FROM leads WHERE key = ? AND id = ?", (key, lead_id)
        ).fetchone()
        if found is not None:
            return None if found[0] is None else dict(json.loads(found[0]))
        lead = self._default.get(lead_id)
        return None if lead is None else json.loads(encode(lead))

    def _taken(self, db: sqlite3.Connection, key: str, campaign_id: int, phone: str) -> bool:
        """Whether the key has a lead with this number in this campaign."""
        if db.execute(
            "SELECT 1 FROM leads WHERE key = ? AND campaign_id = ? AND phone = ?",
            (key, campaign_id, phone),
        ).fetchone():
            return True
        return any(not _changed(db, key, lead_id) for lead_id in self._phones[campaign_id, phone])

    def _put(
        self,
        db: sqlite3.Connection,
        key: str,
        row: KeyRow,
        lead: dict[str, Any],
        *,
        next_id: int | None = None,
        tombstone: bool = False,
    ) -> None:
        raw = b"" if tombstone else encode(lead)
        body, size = (None if tombstone else raw.decode()), len(raw)  # bytes, not characters
        old = db.execute(
            "SELECT length(CAST(body AS BLOB)) FROM leads WHERE key = ? AND id = ?",
            (key, lead["id"]),
        ).fetchone()
        leads = row.leads + (old is None)
        held = row.bytes + size - ((old[0] or 0) if old is not None else 0)
        limits = self.limits
        if leads > limits.key_leads:
            raise Refused(_full(f"{limits.key_leads:,} changed leads for this key"))
        if held > limits.key_bytes:
            raise Refused(_full(f"{limits.key_bytes:,} bytes of leads for this key"))
        total = db.execute("SELECT coalesce(sum(bytes), 0) FROM keys").fetchone()[0]
        if total - row.bytes + held > limits.state_bytes:
            raise Refused(_full(f"{limits.state_bytes:,} bytes of leads"))
        campaign, phone = (None, None) if tombstone else (lead["campaign_id"], lead["phone_number"])
        db.execute(
            "INSERT OR REPLACE INTO leads VALUES (?, ?, ?, ?, ?)",
            (key, lead["id"], campaign, phone, body),
        )
        db.execute(
            "UPDATE keys SET version = ?, next_id = ?, leads = ?, bytes = ? WHERE key = ?",
            # Random, not counted: a key forgotten and written again never repeats one.
            (secrets.randbits(62), next_id or row.next_id, leads, held, key),
        )

    def _now(self, db: sqlite3.Connection) -> str:
        """The time a write is dated: the simulated clock's when calls are simulated."""
        if self.calls is not None:
            return self.calls.timestamp(db)
        return time.strftime(TIMESTAMP, time.gmtime(self.wall()))


def _changed(db: sqlite3.Connection, key: str, lead_id: int) -> bool:
    found = db.execute("SELECT 1 FROM leads WHERE key = ? AND id = ?", (key, lead_id))
    return found.fetchone() is not None


def _duplicate(phone: str) -> Reply:
    message = (
        f"The phone number {phone} is already a lead of this campaign. "
        "Send allow_dupplicate: true to add it again."
    )
    return Reply.message(422, {"message": message, "errors": {"phone_number": [message]}}, STATE)


def _too_many_variables() -> Reply:
    message = f"The variables field must not have more than {MAX_VARIABLES} items."
    return Reply.message(422, {"message": message, "errors": {"variables": [message]}}, STATE)


def _full(what: str) -> Reply:
    message = (
        f"The mock's state holds its most ({what}); nothing was written. "
        "DELETE /_proxy/state forgets the writes."
    )
    return Reply.message(507, {"message": message}, STATE)
