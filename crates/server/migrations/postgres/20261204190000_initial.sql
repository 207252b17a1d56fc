-- Clientela's sync server on PostgreSQL: the same tables as on SQLite. Times are UTC
-- RFC 3339 text.

CREATE TABLE companies (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Only a SHA-256 of each 256-bit secret is kept.
CREATE TABLE credentials (
    id          TEXT PRIMARY KEY NOT NULL,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    role        TEXT NOT NULL CHECK (role IN ('headOffice', 'branch')),
    branch_id   TEXT,
    name        TEXT NOT NULL,
    secret_hash BYTEA NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    CHECK ((role = 'branch') = (branch_id IS NOT NULL))
);

CREATE TABLE change_log (
    seq         BIGSERIAL PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    change_id   TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    author      TEXT NOT NULL REFERENCES credentials (id),
    received_at TEXT NOT NULL,
    UNIQUE (company_id, change_id)
);
CREATE INDEX change_log_entity ON change_log (company_id, entity, entity_id);
CREATE INDEX change_log_company ON change_log (company_id, seq);

CREATE TABLE tombstones (
    company_id TEXT NOT NULL REFERENCES companies (id),
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    deleted_at TEXT NOT NULL,
    PRIMARY KEY (company_id, entity, entity_id)
);
