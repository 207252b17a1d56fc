-- Who may see each customer, kept from the changes that set its origin and assignment, so
-- that a branch pulls only its own local customers and the global ones assigned to it.
CREATE TABLE customer_access (
    company_id       TEXT NOT NULL REFERENCES companies (id),
    customer_id      TEXT NOT NULL,
    -- NULL: a global customer; otherwise the branch whose local customer this is
    origin_branch    TEXT,
    all_branches     INTEGER NOT NULL,
    -- JSON list of branch ids, for a global customer assigned to some branches
    branches         TEXT NOT NULL,
    -- the clock stamp of the assignment kept here; a later one replaces it
    assignment_stamp TEXT NOT NULL,
    PRIMARY KEY (company_id, customer_id)
) STRICT, WITHOUT ROWID;
