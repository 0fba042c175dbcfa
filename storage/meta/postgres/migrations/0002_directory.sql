-- Identity plane: tenants, applications, principals, client and federated credentials,
-- managed-identity hosts, signing keys and one-time values (storage/meta/directory.go), as
-- SQLite's 0002_directory.sql with PostgreSQL's types: hashes, certificates and sealed
-- keys as bytea (empty for none), booleans as boolean, timestamps as unix nanoseconds
-- (0 for none), lists as jsonb. NULL is used only where a UNIQUE column has no value.
-- Text is COLLATE "C" so listings sort in byte order, as in SQLite.
--
-- Also the access epoch: a one-row counter that every transaction changing what the data
-- plane authenticates with (principals here; registries, scope maps, tokens and role
-- assignments in 0003) increases once, announcing the new value on the channel
-- cerulean_access when it commits (see access.go).

CREATE TABLE tenants (
    id           text   COLLATE "C" NOT NULL PRIMARY KEY,
    display_name text   COLLATE "C" NOT NULL,
    created_at   bigint NOT NULL
);

CREATE TABLE applications (
    object_id    text   COLLATE "C" NOT NULL PRIMARY KEY,
    app_id       text   COLLATE "C" NOT NULL UNIQUE,
    tenant_id    text   COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    display_name text   COLLATE "C" NOT NULL,
    created_at   bigint NOT NULL
);

CREATE INDEX applications_tenant ON applications (tenant_id, display_name);

CREATE TABLE identity_hosts (
    id          text   COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id   text   COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text   COLLATE "C" NOT NULL,
    secret_hash bytea  NOT NULL UNIQUE,
    created_at  bigint NOT NULL,
    UNIQUE (tenant_id, name)
);

-- app_id: client id of service principals and managed identities (NULL for users); a
-- service principal has no foreign key to its application because managed identities have
-- none. host_id: the host of a system-assigned identity, which goes with it.
CREATE TABLE principals (
    object_id           text    COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id           text    COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind                text    COLLATE "C" NOT NULL,
    display_name        text    COLLATE "C" NOT NULL,
    app_id              text    COLLATE "C" UNIQUE,
    enabled             boolean NOT NULL,
    owner               boolean NOT NULL,
    user_principal_name text    COLLATE "C" UNIQUE,
    password_hash       text    COLLATE "C" NOT NULL,
    password_changed_at bigint  NOT NULL,
    resource_id         text    COLLATE "C" NOT NULL,
    host_id             text    COLLATE "C" REFERENCES identity_hosts (id) ON DELETE CASCADE,
    created_at          bigint  NOT NULL
);

CREATE INDEX principals_tenant ON principals (tenant_id, kind, display_name);
CREATE INDEX principals_host ON principals (host_id);

CREATE TABLE identity_host_assignments (
    host_id   text COLLATE "C" NOT NULL REFERENCES identity_hosts (id) ON DELETE CASCADE,
    object_id text COLLATE "C" NOT NULL REFERENCES principals (object_id) ON DELETE CASCADE,
    PRIMARY KEY (host_id, object_id)
);

CREATE INDEX identity_host_assignments_object ON identity_host_assignments (object_id);

CREATE TABLE client_credentials (
    key_id       text   COLLATE "C" NOT NULL PRIMARY KEY,
    app_id       text   COLLATE "C" NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    kind         text   COLLATE "C" NOT NULL,
    display_name text   COLLATE "C" NOT NULL,
    hint         text   COLLATE "C" NOT NULL,
    secret_hash  bytea  NOT NULL,
    certificate  bytea  NOT NULL,
    start_at     bigint NOT NULL,
    end_at       bigint NOT NULL,
    created_at   bigint NOT NULL
);

CREATE INDEX client_credentials_app ON client_credentials (app_id, created_at);

CREATE TABLE federated_credentials (
    id          text   COLLATE "C" NOT NULL PRIMARY KEY,
    app_id      text   COLLATE "C" NOT NULL REFERENCES applications (app_id) ON DELETE CASCADE,
    name        text   COLLATE "C" NOT NULL,
    issuer      text   COLLATE "C" NOT NULL,
    subject     text   COLLATE "C" NOT NULL,
    audiences   jsonb  NOT NULL,
    description text   COLLATE "C" NOT NULL,
    created_at  bigint NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE signing_keys (
    kid           text   COLLATE "C" NOT NULL PRIMARY KEY,
    purpose       text   COLLATE "C" NOT NULL,
    generation    bigint NOT NULL,
    algorithm     text   COLLATE "C" NOT NULL,
    certificate   bytea  NOT NULL,
    private_key   bytea  NOT NULL,
    sign_from     bigint NOT NULL,
    sign_until    bigint NOT NULL,
    publish_until bigint NOT NULL,
    created_at    bigint NOT NULL,
    UNIQUE (purpose, generation)
);

-- One-time values (client assertion ids), kept until they expire.
CREATE TABLE used_once (
    id         text   COLLATE "C" NOT NULL PRIMARY KEY,
    expires_at bigint NOT NULL
);

CREATE INDEX used_once_expiry ON used_once (expires_at);

CREATE TABLE device_codes (
    code_hash      bytea  NOT NULL PRIMARY KEY,
    user_code      text   COLLATE "C" NOT NULL UNIQUE,
    client_id      text   COLLATE "C" NOT NULL,
    tenant         text   COLLATE "C" NOT NULL,
    scope          text   COLLATE "C" NOT NULL,
    user_object_id text   COLLATE "C" NOT NULL,
    expires_at     bigint NOT NULL,
    created_at     bigint NOT NULL
);

CREATE INDEX device_codes_expiry ON device_codes (expires_at);

-- The access epoch: one row, whose lock also orders the transactions that change access
-- records (the store takes it first in each of them, so they never deadlock).
CREATE TABLE access_epoch (
    id    boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch bigint  NOT NULL
);

INSERT INTO access_epoch (id, epoch) VALUES (true, 0);

-- bump_access_epoch increases the epoch once per transaction (a transaction-local setting
-- remembers the transaction that did) and notifies cerulean_access with the new value;
-- PostgreSQL delivers the notification only if, and when, the transaction commits.
CREATE FUNCTION bump_access_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e bigint;
BEGIN
    IF current_setting('cerulean.access_epoch_xact', true) IS DISTINCT FROM txid_current()::text THEN
        PERFORM set_config('cerulean.access_epoch_xact', txid_current()::text, true);
        UPDATE access_epoch SET epoch = epoch + 1 RETURNING epoch INTO e;
        PERFORM pg_notify('cerulean_access', e::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER principals_access_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON principals
    FOR EACH STATEMENT EXECUTE FUNCTION bump_access_epoch();
