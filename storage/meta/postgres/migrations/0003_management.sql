-- Management plane: subscriptions, resource groups, registries, scope maps, tokens, role
-- assignments, principal generations and the activity log (storage/meta/management.go), as
-- SQLite's 0003_management.sql with PostgreSQL's types: hashes and sealed secrets as
-- bytea, booleans as boolean, timestamps as unix nanoseconds (0 for none), lists and maps
-- as jsonb. ARM compares names case-insensitively: each name is kept as given and indexed
-- through a *_key column holding its lower-case form, which the store fills; text is
-- COLLATE "C" so those keys sort in byte order, as in SQLite.

CREATE TABLE subscriptions (
    id           text   COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id    text   COLLATE "C" NOT NULL,
    display_name text   COLLATE "C" NOT NULL,
    created_at   bigint NOT NULL
);

CREATE TABLE resource_groups (
    subscription_id text   COLLATE "C" NOT NULL REFERENCES subscriptions (id),
    name_key        text   COLLATE "C" NOT NULL,
    name            text   COLLATE "C" NOT NULL,
    location        text   COLLATE "C" NOT NULL,
    tags            jsonb  NOT NULL,
    created_at      bigint NOT NULL,
    PRIMARY KEY (subscription_id, name_key)
);

-- A resource group with registries cannot be deleted (no cascade): its registries' content
-- must be deleted first, which only the application can do.
CREATE TABLE registries (
    id                     text    COLLATE "C" NOT NULL PRIMARY KEY,
    subscription_id        text    COLLATE "C" NOT NULL,
    resource_group_key     text    COLLATE "C" NOT NULL,
    name_key               text    COLLATE "C" NOT NULL UNIQUE,
    name                   text    COLLATE "C" NOT NULL,
    login_server           text    COLLATE "C" NOT NULL UNIQUE,
    location               text    COLLATE "C" NOT NULL,
    sku                    text    COLLATE "C" NOT NULL,
    tags                   jsonb   NOT NULL,
    admin_user_enabled     boolean NOT NULL,
    anonymous_pull_enabled boolean NOT NULL,
    public_network_access  boolean NOT NULL,
    network_default_action text    COLLATE "C" NOT NULL,
    ip_rules               jsonb   NOT NULL,
    aad_auth_as_arm        boolean NOT NULL,
    role_assignment_mode   text    COLLATE "C" NOT NULL,
    admin1_sealed          bytea   NOT NULL,
    admin1_hash            bytea   NOT NULL,
    admin2_sealed          bytea   NOT NULL,
    admin2_hash            bytea   NOT NULL,
    created_at             bigint  NOT NULL,
    created_by             text    COLLATE "C" NOT NULL,
    created_by_type        text    COLLATE "C" NOT NULL,
    updated_at             bigint  NOT NULL,
    updated_by             text    COLLATE "C" NOT NULL,
    updated_by_type        text    COLLATE "C" NOT NULL,
    generation             bigint  NOT NULL,
    FOREIGN KEY (subscription_id, resource_group_key) REFERENCES resource_groups (subscription_id, name_key)
);

CREATE INDEX registries_group ON registries (subscription_id, resource_group_key, name_key);

CREATE TABLE scope_maps (
    registry_id     text    COLLATE "C" NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name_key        text    COLLATE "C" NOT NULL,
    name            text    COLLATE "C" NOT NULL,
    description     text    COLLATE "C" NOT NULL,
    actions         jsonb   NOT NULL,
    system          boolean NOT NULL,
    created_at      bigint  NOT NULL,
    created_by      text    COLLATE "C" NOT NULL,
    created_by_type text    COLLATE "C" NOT NULL,
    updated_at      bigint  NOT NULL,
    updated_by      text    COLLATE "C" NOT NULL,
    updated_by_type text    COLLATE "C" NOT NULL,
    PRIMARY KEY (registry_id, name_key)
);

-- A scope map that tokens use cannot be deleted (no cascade on scope_map_key).
CREATE TABLE tokens (
    registry_id       text    COLLATE "C" NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name_key          text    COLLATE "C" NOT NULL,
    name              text    COLLATE "C" NOT NULL,
    scope_map_key     text    COLLATE "C" NOT NULL,
    enabled           boolean NOT NULL,
    password1_hash    bytea   NOT NULL,
    password1_created bigint  NOT NULL,
    password1_expiry  bigint  NOT NULL,
    password2_hash    bytea   NOT NULL,
    password2_created bigint  NOT NULL,
    password2_expiry  bigint  NOT NULL,
    created_at        bigint  NOT NULL,
    created_by        text    COLLATE "C" NOT NULL,
    created_by_type   text    COLLATE "C" NOT NULL,
    updated_at        bigint  NOT NULL,
    updated_by        text    COLLATE "C" NOT NULL,
    updated_by_type   text    COLLATE "C" NOT NULL,
    generation        bigint  NOT NULL,
    PRIMARY KEY (registry_id, name_key),
    FOREIGN KEY (registry_id, scope_map_key) REFERENCES scope_maps (registry_id, name_key)
);

CREATE INDEX tokens_scope_map ON tokens (registry_id, scope_map_key);

-- scope_key: the scope in lower case without a trailing slash ("" for the root "/").
-- The unique index serves the data plane's lookup (principal, then scopes).
CREATE TABLE role_assignments (
    name               text   COLLATE "C" NOT NULL PRIMARY KEY,
    scope              text   COLLATE "C" NOT NULL,
    scope_key          text   COLLATE "C" NOT NULL,
    role_definition_id text   COLLATE "C" NOT NULL,
    principal_id       text   COLLATE "C" NOT NULL,
    principal_type     text   COLLATE "C" NOT NULL,
    description        text   COLLATE "C" NOT NULL,
    condition_expr     text   COLLATE "C" NOT NULL,
    condition_version  text   COLLATE "C" NOT NULL,
    created_at         bigint NOT NULL,
    created_by         text   COLLATE "C" NOT NULL,
    created_by_type    text   COLLATE "C" NOT NULL,
    updated_at         bigint NOT NULL,
    updated_by         text   COLLATE "C" NOT NULL,
    updated_by_type    text   COLLATE "C" NOT NULL,
    UNIQUE (principal_id, role_definition_id, scope_key)
);

CREATE INDEX role_assignments_scope ON role_assignments (scope_key);

CREATE TABLE principal_generations (
    principal_id text   COLLATE "C" NOT NULL PRIMARY KEY,
    generation   bigint NOT NULL
);

-- seq orders entries written within the same nanosecond.
CREATE TABLE activity_events (
    seq                bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 text    COLLATE "C" NOT NULL UNIQUE,
    at                 bigint  NOT NULL,
    tenant_id          text    COLLATE "C" NOT NULL,
    subscription_id    text    COLLATE "C" NOT NULL,
    resource_group     text    COLLATE "C" NOT NULL,
    resource_group_key text    COLLATE "C" NOT NULL,
    resource_id        text    COLLATE "C" NOT NULL,
    resource_key       text    COLLATE "C" NOT NULL,
    operation          text    COLLATE "C" NOT NULL,
    caller             text    COLLATE "C" NOT NULL,
    caller_app_id      text    COLLATE "C" NOT NULL,
    status             text    COLLATE "C" NOT NULL,
    sub_status         text    COLLATE "C" NOT NULL,
    http_status        integer NOT NULL,
    method             text    COLLATE "C" NOT NULL,
    correlation_id     text    COLLATE "C" NOT NULL,
    client_ip          text    COLLATE "C" NOT NULL
);

CREATE INDEX activity_events_time ON activity_events (subscription_id, at, seq);

-- The access epoch (0002) moves with every change of the records the data plane
-- authenticates with.
CREATE TRIGGER registries_access_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON registries
    FOR EACH STATEMENT EXECUTE FUNCTION bump_access_epoch();
CREATE TRIGGER scope_maps_access_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scope_maps
    FOR EACH STATEMENT EXECUTE FUNCTION bump_access_epoch();
CREATE TRIGGER tokens_access_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_access_epoch();
CREATE TRIGGER role_assignments_access_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_access_epoch();
CREATE TRIGGER principal_generations_access_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON principal_generations
    FOR EACH STATEMENT EXECUTE FUNCTION bump_access_epoch();
