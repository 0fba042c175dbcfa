-- The audit log of the data plane's gate (storage/meta/audit.go): one row per decision.
-- No foreign key to registries: the trail of a removed registry stays until it is pruned.
-- Times are Unix nanoseconds. Both indexes end, implicitly, in seq (the rowid), so newest
-- first (at DESC, seq DESC) comes out of either index without a sort.
CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    registry_id TEXT    NOT NULL,
    principal   TEXT    NOT NULL,
    repository  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    allowed     INTEGER NOT NULL,
    client      TEXT    NOT NULL,
    request_id  TEXT    NOT NULL
);
-- Listings across registries and pruning by age.
CREATE INDEX audit_events_time ON audit_events (at);
-- Listings of one registry.
CREATE INDEX audit_events_registry_time ON audit_events (registry_id, at);
