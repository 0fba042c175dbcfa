-- Budgets of the rate limits (storage/meta/limits.go): one row per key, holding the time
-- (unix nanoseconds) at which its budget is full again. The server keeps these budgets in
-- memory with SQLite (one process); the table keeps the schema and the suite the same as
-- PostgreSQL's.
CREATE TABLE limit_budgets (
    key     TEXT    PRIMARY KEY,
    full_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX limit_budgets_full_at ON limit_budgets (full_at);
