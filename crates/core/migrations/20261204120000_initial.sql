-- Clientela's local store. Times are UTC RFC 3339 text; ids are UUIDv7 text. Customers also
-- have a local integer key (`rid`) that their many child rows use; it never leaves the file.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE branches (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    -- name folded (case and accents) so "Centro" and "centro" are one branch
    name_key   TEXT NOT NULL UNIQUE,
    country    TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE customers (
    rid               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    -- NULL: global customer; otherwise the branch that created this local customer
    origin_branch_id  TEXT REFERENCES branches (id),
    all_branches      INTEGER NOT NULL DEFAULT 0,
    first_name        TEXT NOT NULL DEFAULT '',
    last_name         TEXT NOT NULL DEFAULT '',
    birthday          TEXT,
    gender            TEXT,
    street            TEXT NOT NULL DEFAULT '',
    city              TEXT NOT NULL DEFAULT '',
    postcode          TEXT NOT NULL DEFAULT '',
    region            TEXT NOT NULL DEFAULT '',
    country           TEXT NOT NULL DEFAULT '',
    company           TEXT NOT NULL DEFAULT '',
    notes             TEXT NOT NULL DEFAULT '',
    external_id       TEXT,
    -- JSON arrays, in the person's order: [{"address", "label", "primary"}] and
    -- [{"number", "label", "primary"}]. Always read and written with the customer; the
    -- importer's duplicate check reads them all at once.
    emails            TEXT NOT NULL DEFAULT '[]',
    phones            TEXT NOT NULL DEFAULT '[]',
    -- denormalised for the list: primary contact and the folded search text
    primary_email     TEXT,
    primary_phone     TEXT,
    sort_name         TEXT NOT NULL,
    search_text       TEXT NOT NULL,
    bookings          INTEGER NOT NULL DEFAULT 0,
    -- per-field hybrid-logical-clock stamps, JSON {"field": "hlc"}; "*" covers every
    -- field not named
    field_stamps      TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX customers_external_id ON customers (external_id) WHERE external_id IS NOT NULL;
CREATE INDEX customers_sort_name ON customers (sort_name, id);
CREATE INDEX customers_bookings ON customers (bookings DESC, sort_name, id);
CREATE INDEX customers_origin ON customers (origin_branch_id)
    WHERE origin_branch_id IS NOT NULL;

CREATE TABLE customer_branches (
    customer  INTEGER NOT NULL REFERENCES customers (rid) ON DELETE CASCADE,
    branch_id TEXT NOT NULL REFERENCES branches (id),
    PRIMARY KEY (customer, branch_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_branches_branch ON customer_branches (branch_id, customer);

CREATE TABLE tags (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE customer_tags (
    customer INTEGER NOT NULL REFERENCES customers (rid) ON DELETE CASCADE,
    tag_id   TEXT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (customer, tag_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_tags_tag ON customer_tags (tag_id, customer);

CREATE TABLE appointments (
    id          TEXT PRIMARY KEY NOT NULL,
    branch_id   TEXT NOT NULL REFERENCES branches (id),
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL,
    -- booked | cancelled | completed
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX appointments_customer ON appointments (customer_id, branch_id, ends_at);

-- Head office asked to delete the customer; some branch still has a future appointment.
CREATE TABLE deletion_requests (
    customer_id  TEXT PRIMARY KEY NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    requested_at TEXT NOT NULL
) STRICT;

-- What is left of a deleted customer: the id, so an offline device cannot bring it back.
CREATE TABLE tombstones (
    customer_id TEXT PRIMARY KEY NOT NULL,
    deleted_at  TEXT NOT NULL,
    hlc         TEXT NOT NULL
) STRICT;

-- Changes waiting to be pushed to the sync server, written in the same transaction as the
-- change itself. A change's id, unique in the company, is this database's node id (meta)
-- with its seq; AUTOINCREMENT never hands out a seq twice.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    op         TEXT NOT NULL,
    payload    TEXT NOT NULL,
    hlc        TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_entity ON outbox (entity, entity_id);

-- Same-field edits made on two devices without seeing each other. The higher clock stamp
-- won on every device; the other value is kept here for head office to look at.
CREATE TABLE sync_conflicts (
    id            INTEGER PRIMARY KEY,
    customer_id   TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    field         TEXT NOT NULL,
    -- JSON values with their clock stamps and where they came from
    kept_value    TEXT NOT NULL,
    kept_stamp    TEXT NOT NULL,
    lost_value    TEXT NOT NULL,
    lost_stamp    TEXT NOT NULL,
    lost_author   TEXT NOT NULL,
    detected_at   TEXT NOT NULL,
    resolved_at   TEXT
) STRICT;
CREATE INDEX sync_conflicts_customer ON sync_conflicts (customer_id);

-- What sync could not do, for the Sync issues panel: changes the server refused, and local
-- edits discarded because the customer was deleted elsewhere. Ids and field names only.
CREATE TABLE sync_issues (
    id          INTEGER PRIMARY KEY,
    -- refused | discardedEdit
    kind        TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    code        TEXT NOT NULL,
    -- JSON list of field names
    fields      TEXT NOT NULL,
    -- who deleted it, or the server's reason
    detail      TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
