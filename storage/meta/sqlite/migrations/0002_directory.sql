-- Identity plane: tenants, applications, principals, client and federated credentials,
-- managed-identity hosts, signing keys and one-time values (storage/meta/directory.go).
-- Portable SQL: no BLOBs (hashes, certificates and sealed keys are base64 text), booleans
-- as 0/1, timestamps as unix nanoseconds (0 for none), lists as JSON text. NULL is used
-- only where a UNIQUE column has no value (both engines allow many NULLs there).

CREATE TABLE tenants (
    id           TEXT    NOT NULL PRIMARY KEY,
    display_name TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE applications (
    object_id    TEXT    NOT NULL PRIMARY KEY,
    app_id       TEXT    NOT NULL UNIQUE,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    display_name TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE INDEX applications_tenant ON applications (tenant_id, display_name);

CREATE TABLE identity_hosts (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

-- app_id: client id of service principals and managed identities (NULL for users); a
-- service principal has no foreign key to its application because managed identities have
-- none. host_id: the host of a system-assigned identity, which goes with it.
CREATE TABLE principals (
    object_id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id           TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind                TEXT    NOT NULL,
    display_name        TEXT    NOT NULL,
    app_id              TEXT    UNIQUE,
    enabled             INTEGER NOT NULL,
    owner               INTEGER NOT NULL,
    user_principal_name TEXT    UNIQUE,
    password_hash       TEXT    NOT NULL,
    password_changed_at INTEGER NOT NULL,
    resource_id         TEXT    NOT NULL,
    host_id             TEXT    REFERENCES identity_hosts (id) ON DELETE CASCADE,
    created_at          INTEGER NOT NULL
);

CREATE INDEX principals_tenant ON principals (tenant_id, kind, display_name);

CREATE TABLE identity_host_assignments (
    host_id   TEXT NOT NULL REFERENCES identity_hosts (id) ON DELETE CASCADE,
    object_id TEXT NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    PRIMARY KEY (host_id, object_id)
);

CREATE TABLE client_credentials (
    key_id       TEXT    NOT NULL PRIMARY KEY,
    app_id       TEXT    NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    hint         TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL,
    certificate  TEXT    NOT NULL,
    start_at     INTEGER NOT NULL,
    end_at       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE INDEX client_credentials_app ON client_credentials (app_id, created_at);

CREATE TABLE federated_credentials (
    id          TEXT    NOT NULL PRIMARY KEY,
    app_id      TEXT    NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    issuer      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    audiences   TEXT    NOT NULL,
    description TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE signing_keys (
    kid           TEXT    NOT NULL PRIMARY KEY,
    purpose       TEXT    NOT NULL,
    generation    INTEGER NOT NULL,
    algorithm     TEXT    NOT NULL,
    certificate   TEXT    NOT NULL,
    private_key   TEXT    NOT NULL,
    sign_from     INTEGER NOT NULL,
    sign_until    INTEGER NOT NULL,
    publish_until INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (purpose, generation)
);

-- One-time values (client assertion ids), kept until they expire.
CREATE TABLE used_once (
    id         TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

CREATE INDEX used_once_expiry ON used_once (expires_at);

CREATE TABLE device_codes (
    code_hash      TEXT    NOT NULL PRIMARY KEY,
    user_code      TEXT    NOT NULL UNIQUE,
    client_id      TEXT    NOT NULL,
    tenant         TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    user_object_id TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE INDEX device_codes_expiry ON device_codes (expires_at);
