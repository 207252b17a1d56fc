-- Who may see each customer (see the SQLite migration of the same name).
CREATE TABLE customer_access (
    company_id       TEXT NOT NULL REFERENCES companies (id),
    customer_id      TEXT NOT NULL,
    origin_branch    TEXT,
    all_branches     BIGINT NOT NULL,
    branches         TEXT NOT NULL,
    assignment_stamp TEXT NOT NULL,
    PRIMARY KEY (company_id, customer_id)
);
