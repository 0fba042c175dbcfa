-- Management plane: subscriptions, resource groups, registries, scope maps, tokens, role
-- assignments, principal generations and the activity log (storage/meta/management.go).
-- Portable SQL: no BLOBs (hashes and sealed secrets are base64 text), booleans as 0/1,
-- timestamps as unix nanoseconds (0 for none), lists and maps as JSON text.
-- ARM compares names case-insensitively: each name is kept as given and indexed through a
-- *_key column holding its lower-case form, which the store fills.

CREATE TABLE subscriptions (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE resource_groups (
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id),
    name_key        TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    location        TEXT    NOT NULL,
    tags            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, name_key)
);

-- A resource group with registries cannot be deleted (no cascade): its registries' content
-- must be deleted first, which only the application can do.
CREATE TABLE registries (
    id                     TEXT    NOT NULL PRIMARY KEY,
    subscription_id        TEXT    NOT NULL,
    resource_group_key     TEXT    NOT NULL,
    name_key               TEXT    NOT NULL UNIQUE,
    name                   TEXT    NOT NULL,
    login_server           TEXT    NOT NULL UNIQUE,
    location               TEXT    NOT NULL,
    sku                    TEXT    NOT NULL,
    tags                   TEXT    NOT NULL,
    admin_user_enabled     INTEGER NOT NULL,
    anonymous_pull_enabled INTEGER NOT NULL,
    public_network_access  INTEGER NOT NULL,
    network_default_action TEXT    NOT NULL,
    ip_rules               TEXT    NOT NULL,
    aad_auth_as_arm        INTEGER NOT NULL,
    role_assignment_mode   TEXT    NOT NULL,
    admin1_sealed          TEXT    NOT NULL,
    admin1_hash            TEXT    NOT NULL,
    admin2_sealed          TEXT    NOT NULL,
    admin2_hash            TEXT    NOT NULL,
    created_at             INTEGER NOT NULL,
    created_by             TEXT    NOT NULL,
    created_by_type        TEXT    NOT NULL,
    updated_at             INTEGER NOT NULL,
    updated_by             TEXT    NOT NULL,
    updated_by_type        TEXT    NOT NULL,
    generation             INTEGER NOT NULL,
    FOREIGN KEY (subscription_id, resource_group_key) REFERENCES resource_groups (subscription_id, name_key)
);

CREATE INDEX registries_group ON registries (subscription_id, resource_group_key, name_key);

CREATE TABLE scope_maps (
    registry_id     TEXT    NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name_key        TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    actions         TEXT    NOT NULL,
    system          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    created_by_type TEXT    NOT NULL,
    updated_at      INTEGER NOT NULL,
    updated_by      TEXT    NOT NULL,
    updated_by_type TEXT    NOT NULL,
    PRIMARY KEY (registry_id, name_key)
);

-- A scope map that tokens use cannot be deleted (no cascade on scope_map_key).
CREATE TABLE tokens (
    registry_id       TEXT    NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name_key          TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    scope_map_key     TEXT    NOT NULL,
    enabled           INTEGER NOT NULL,
    password1_hash    TEXT    NOT NULL,
    password1_created INTEGER NOT NULL,
    password1_expiry  INTEGER NOT NULL,
    password2_hash    TEXT    NOT NULL,
    password2_created INTEGER NOT NULL,
    password2_expiry  INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    created_by        TEXT    NOT NULL,
    created_by_type   TEXT    NOT NULL,
    updated_at        INTEGER NOT NULL,
    updated_by        TEXT    NOT NULL,
    updated_by_type   TEXT    NOT NULL,
    generation        INTEGER NOT NULL,
    PRIMARY KEY (registry_id, name_key),
    FOREIGN KEY (registry_id, scope_map_key) REFERENCES scope_maps (registry_id, name_key)
);

CREATE INDEX tokens_scope_map ON tokens (registry_id, scope_map_key);

-- scope_key: the scope in lower case without a trailing slash ("" for the root "/").
-- The unique index serves the data plane's lookup (principal, then scopes).
CREATE TABLE role_assignments (
    name               TEXT    NOT NULL PRIMARY KEY,
    scope              TEXT    NOT NULL,
    scope_key          TEXT    NOT NULL,
    role_definition_id TEXT    NOT NULL,
    principal_id       TEXT    NOT NULL,
    principal_type     TEXT    NOT NULL,
    description        TEXT    NOT NULL,
    condition_expr     TEXT    NOT NULL,
    condition_version  TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    created_by         TEXT    NOT NULL,
    created_by_type    TEXT    NOT NULL,
    updated_at         INTEGER NOT NULL,
    updated_by         TEXT    NOT NULL,
    updated_by_type    TEXT    NOT NULL,
    UNIQUE (principal_id, role_definition_id, scope_key)
);

CREATE INDEX role_assignments_scope ON role_assignments (scope_key);

CREATE TABLE principal_generations (
    principal_id TEXT    NOT NULL PRIMARY KEY,
    generation   INTEGER NOT NULL
);

-- seq orders entries written within the same nanosecond.
CREATE TABLE activity_events (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT    NOT NULL UNIQUE,
    at                 INTEGER NOT NULL,
    tenant_id          TEXT    NOT NULL,
    subscription_id    TEXT    NOT NULL,
    resource_group     TEXT    NOT NULL,
    resource_group_key TEXT    NOT NULL,
    resource_id        TEXT    NOT NULL,
    resource_key       TEXT    NOT NULL,
    operation          TEXT    NOT NULL,
    caller             TEXT    NOT NULL,
    caller_app_id      TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    sub_status         TEXT    NOT NULL,
    http_status        INTEGER NOT NULL,
    method             TEXT    NOT NULL,
    correlation_id     TEXT    NOT NULL,
    client_ip          TEXT    NOT NULL
);

CREATE INDEX activity_events_time ON activity_events (subscription_id, at);
