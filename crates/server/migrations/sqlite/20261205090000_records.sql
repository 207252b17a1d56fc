-- Every customer, branch and appointment as the change log leaves it (for each field, the
-- value with the highest clock stamp), kept in the transaction that logs each change, so
-- the integrator API reads, filters and checks entities without replaying the log.
CREATE TABLE records (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    entity      TEXT NOT NULL,
    id          TEXT NOT NULL,
    -- JSON {field: value} and {field: stamp}
    fields      TEXT NOT NULL,
    stamps      TEXT NOT NULL,
    -- customers: the external id (NULL when empty), the folded name the list sorts by, the
    -- search text, and the folded tags written |a|b|
    external_id TEXT,
    sort_name   TEXT NOT NULL DEFAULT '',
    search_text TEXT NOT NULL DEFAULT '',
    tag_keys    TEXT NOT NULL DEFAULT '',
    -- appointments: their customer
    customer_id TEXT,
    PRIMARY KEY (company_id, entity, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX records_external_id ON records (company_id, entity, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX records_sort ON records (company_id, entity, sort_name, id);
CREATE INDEX records_customer ON records (company_id, customer_id)
    WHERE customer_id IS NOT NULL;
