-- Schema version 1 of a premises or fleet store (emulator/store.py applies it).
-- EUI-64s are 16 upper-case hex digits; times ISO 8601 UTC; counters 16 hex digits, because
-- GBCS counters are unsigned 64-bit and SQLite's INTEGER is signed.

CREATE TABLE device (
    eui             TEXT PRIMARY KEY,
    device_type     TEXT NOT NULL,                 -- chf gpf esme gsme ihd ppmid hcalcs
    identity        TEXT NOT NULL,                 -- JSON: manufacturer, model, firmware, variant
    lifecycle       TEXT NOT NULL,
    own_counter     TEXT NOT NULL                  -- last originator counter this device used
);

-- A device's own key pairs and certificates (replaced by key regeneration, CS02c).
CREATE TABLE credential (
    device          TEXT NOT NULL REFERENCES device (eui) ON DELETE CASCADE,
    usage           TEXT NOT NULL,                 -- ds | ka
    private_key     BLOB,                          -- PKCS#8 DER; NULL when the store has none
    certificate     BLOB,                          -- DER
    PRIMARY KEY (device, usage)
);

-- Trust anchor cells: one remote party per role, with its certificates.
CREATE TABLE trust_anchor (
    device          TEXT NOT NULL REFERENCES device (eui) ON DELETE CASCADE,
    role            INTEGER NOT NULL,              -- gbcs.types.Role
    party           TEXT NOT NULL,                 -- the party's EUI-64 (entity identifier)
    ds_certificate  BLOB,                          -- DER, or NULL where GBCS keeps no DS key
    ka_certificate  BLOB,
    PRIMARY KEY (device, role)
);

-- Anti-replay: the last originator counter accepted from each remote party.
CREATE TABLE anti_replay (
    device          TEXT NOT NULL REFERENCES device (eui) ON DELETE CASCADE,
    party           TEXT NOT NULL,
    last_counter    TEXT NOT NULL,
    PRIMARY KEY (device, party)
);

CREATE TABLE security_log (
    id              INTEGER PRIMARY KEY,
    device          TEXT NOT NULL REFERENCES device (eui) ON DELETE CASCADE,
    at              TEXT NOT NULL,
    event           TEXT NOT NULL,                 -- e.g. bad-signature, replayed, wrong-role
    alert_code      INTEGER,                       -- the GBCS alert code, where one applies
    originator      TEXT,
    message_code    INTEGER,
    counter         TEXT,
    detail          TEXT NOT NULL
);

CREATE TABLE event_log (
    id              INTEGER PRIMARY KEY,
    device          TEXT NOT NULL REFERENCES device (eui) ON DELETE CASCADE,
    at              TEXT NOT NULL,
    event           TEXT NOT NULL,
    code            INTEGER,
    detail          TEXT NOT NULL
);

-- Device-specific state: named values (JSON), e.g. the CHF device log or an IHD's display.
CREATE TABLE register (
    device          TEXT NOT NULL REFERENCES device (eui) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    value           TEXT NOT NULL,
    PRIMARY KEY (device, name)
);

-- Future-dated commands waiting for their execution date-time.
CREATE TABLE future_command (
    id              INTEGER PRIMARY KEY,
    device          TEXT NOT NULL REFERENCES device (eui) ON DELETE CASCADE,
    due             TEXT NOT NULL,
    frame           BLOB NOT NULL
);

-- Everything a device sends (responses, alerts), durable before it leaves; `sent` is set
-- once the transport has it.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    device          TEXT NOT NULL REFERENCES device (eui) ON DELETE CASCADE,
    at              TEXT NOT NULL,
    kind            TEXT NOT NULL,                 -- response | alert
    frame           BLOB NOT NULL,
    sent            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unsent ON outbox (sent, id);
