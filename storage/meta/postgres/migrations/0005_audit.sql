-- The audit log of the data plane's gate (storage/meta/audit.go): one row per decision.
-- No foreign key to registries: the trail of a removed registry stays until it is pruned.
-- Times are unix nanoseconds; seq orders events of the same time by when they were
-- appended. Both indexes end in seq, so newest first (at DESC, seq DESC) comes out of
-- either, read backwards, without a sort.
CREATE TABLE audit_events (
    seq         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          bigint  NOT NULL,
    registry_id text    COLLATE "C" NOT NULL,
    principal   text    COLLATE "C" NOT NULL,
    repository  text    COLLATE "C" NOT NULL,
    action      text    COLLATE "C" NOT NULL,
    allowed     boolean NOT NULL,
    client      text    COLLATE "C" NOT NULL,
    request_id  text    COLLATE "C" NOT NULL
);
-- Listings across registries and pruning by age.
CREATE INDEX audit_events_time ON audit_events (at, seq);
-- Listings of one registry.
CREATE INDEX audit_events_registry_time ON audit_events (registry_id, at, seq);
