-- Every entity as the change log leaves it (see the SQLite migration of the same name).
CREATE TABLE records (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    entity      TEXT NOT NULL,
    id          TEXT NOT NULL,
    fields      TEXT NOT NULL,
    stamps      TEXT NOT NULL,
    external_id TEXT,
    -- "C": names order by their folded bytes, as on SQLite and on every desktop
    sort_name   TEXT COLLATE "C" NOT NULL DEFAULT '',
    search_text TEXT NOT NULL DEFAULT '',
    tag_keys    TEXT NOT NULL DEFAULT '',
    customer_id TEXT,
    PRIMARY KEY (company_id, entity, id)
);
CREATE INDEX records_external_id ON records (company_id, entity, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX records_sort ON records (company_id, entity, sort_name, id);
CREATE INDEX records_customer ON records (company_id, customer_id)
    WHERE customer_id IS NOT NULL;
