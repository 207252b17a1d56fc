-- Clientela's sync server on SQLite. Times are UTC RFC 3339 text.

CREATE TABLE companies (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- Who may call the server: one head-office credential per company and one per branch.
-- Only a SHA-256 of each secret is kept; secrets are 256 random bits, so a slow password
-- hash would add nothing.
CREATE TABLE credentials (
    id          TEXT PRIMARY KEY NOT NULL,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    -- headOffice | branch
    role        TEXT NOT NULL CHECK (role IN ('headOffice', 'branch')),
    branch_id   TEXT,
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    CHECK ((role = 'branch') = (branch_id IS NOT NULL))
) STRICT;

-- Every accepted change, in the order the server accepted it. A change's id is unique in
-- its company, so a retried push is recognised.
CREATE TABLE change_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    change_id   TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    -- the change as pushed (JSON)
    body        TEXT NOT NULL,
    author      TEXT NOT NULL REFERENCES credentials (id),
    received_at TEXT NOT NULL,
    UNIQUE (company_id, change_id)
) STRICT;
CREATE INDEX change_log_entity ON change_log (company_id, entity, entity_id);
CREATE INDEX change_log_company ON change_log (company_id, seq);

-- Deleted entities: only the id stays, so an offline device cannot bring them back.
CREATE TABLE tombstones (
    company_id TEXT NOT NULL REFERENCES companies (id),
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    -- the change log entry of the deletion
    seq        INTEGER NOT NULL,
    deleted_at TEXT NOT NULL,
    PRIMARY KEY (company_id, entity, entity_id)
) STRICT, WITHOUT ROWID;
