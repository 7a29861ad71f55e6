"""The tables of mock mode's state file (`mock.state`): what it holds, and its marks.

A file is a leads-proxy state file when its `application_id` is `APPLICATION_ID`
and its `user_version` is `FORMAT`, and it holds every table of `TABLES` with
those columns; `mock.state` checks all three at start, before writing to it.
"""

from __future__ import annotations

APPLICATION_ID = 0x4C50_4D53  # "LPMS": leads-proxy mock state
FORMAT = 2  # PRAGMA user_version (2: with the simulated calls and the file's own secret)
TABLES = {  # what the file must hold, checked at start: a table, and its columns
    "meta": "name, value",
    "keys": "key, shown, version, next_id, leads, bytes",
    "leads": "key, id, campaign_id, phone, body",
    "calls": "key, lead_id, phase, at, attempts, began",
    "clock": "id, base_wall, base_sim, speed, until, next_call, dialer, lease",
    "deliveries": "id, call_id, lead_id, url, payload, attempts, state, last_status, "
    "last_error, at, next_try",
}
SCHEMA = """
-- The file's own secret, under which the keys are digested (http.keys.use_state_secret):
-- the file stays readable whatever secret the deployment has.
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keys (
    key TEXT PRIMARY KEY,        -- http.keys.state_key: a keyed digest, never the key
    shown TEXT NOT NULL,         -- the fingerprint the journal shows
    version INTEGER NOT NULL,    -- a new random value with every write: never seen twice
    next_id INTEGER NOT NULL,    -- the id the next lead or contact gets
    leads INTEGER NOT NULL,      -- rows held
    bytes INTEGER NOT NULL       -- the bytes of their JSON
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leads (
    key TEXT NOT NULL,
    id INTEGER NOT NULL,
    campaign_id INTEGER,
    phone TEXT,
    body TEXT,                   -- the lead's JSON, or NULL: deleted
    PRIMARY KEY (key, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS leads_by_phone ON leads (key, campaign_id, phone);
-- The simulated dialer (mock.calling): each lead it has to call, in the phase it is in.
CREATE TABLE IF NOT EXISTS calls (
    key TEXT NOT NULL,
    lead_id INTEGER NOT NULL,
    phase TEXT NOT NULL,         -- created, scheduled, rescheduled or processing
    at REAL NOT NULL,            -- simulated time of its next move (processing: the call's end)
    attempts INTEGER NOT NULL,   -- calls begun
    began REAL,                  -- processing: when the call began
    PRIMARY KEY (key, lead_id)
) WITHOUT ROWID;
-- One row: the simulated clock (its time is base_sim + (now - base_wall) * speed),
-- how far the dialer has run it, the next call's id, and which process dials.
CREATE TABLE IF NOT EXISTS clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    base_wall REAL NOT NULL,
    base_sim REAL NOT NULL,
    speed REAL NOT NULL,
    until REAL NOT NULL,
    next_call INTEGER NOT NULL,
    dialer TEXT,                 -- the process that holds the dialer's lease
    lease REAL NOT NULL          -- real time the lease ends
);
-- Post-call webhooks: each one, until it is delivered or given up on.
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    call_id INTEGER NOT NULL,
    lead_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',  -- pending, delivered or given-up
    last_status INTEGER,         -- the receiver's last HTTP status
    last_error TEXT,             -- or why there was none
    at REAL NOT NULL,            -- real time of the last attempt (or of the call's end)
    next_try REAL NOT NULL       -- real time of the next attempt
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_try);
"""
