-- Budgets of the rate limits that every replica shares (storage/meta/limits.go): one row
-- per key ("client:<address>", "user:<name>"), holding the time (unix nanoseconds) at
-- which its budget is full again. Rows decay by themselves; PruneLimits removes the full.
CREATE TABLE limit_budgets (
    key     text   COLLATE "C" PRIMARY KEY,
    full_at bigint NOT NULL
);
CREATE INDEX limit_budgets_full_at ON limit_budgets (full_at);
