-- Initial schema: the content of registries (storage/meta/meta.go), as SQLite's
-- 0001_init.sql with PostgreSQL's types. Timestamps are unix nanoseconds in bigint (the
-- store reports times at nanosecond precision, which timestamptz would cut to
-- microseconds). Names, tags and digests compare in byte order (COLLATE "C", SQLite's
-- BINARY), whatever the database's collation, so listings page identically everywhere.
-- Manifest content is bytea.

-- A repository is a name within one registry (a server hosts several); the unique
-- (registry_id, name) index serves lookups and the per-registry catalog, in byte order.
-- Every other table cascades from here (manifest_references and tags via manifests), so
-- deleting a repository row, or all of a registry's, removes everything it held. Writes
-- to a repository's content lock its row first (see postgres.go).
CREATE TABLE repositories (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registry_id text   COLLATE "C" NOT NULL,
    name        text   COLLATE "C" NOT NULL,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    UNIQUE (registry_id, name)
);

CREATE TABLE repository_blobs (
    repo_id   bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest    text   COLLATE "C" NOT NULL,
    size      bigint NOT NULL,
    linked_at bigint NOT NULL,
    PRIMARY KEY (repo_id, digest)
);

-- Blob GC asks "is this digest linked anywhere since the cutoff".
CREATE INDEX repository_blobs_digest ON repository_blobs (digest, linked_at);

CREATE TABLE manifests (
    repo_id           bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest            text   COLLATE "C" NOT NULL,
    media_type        text   COLLATE "C" NOT NULL,
    size              bigint NOT NULL,
    content           bytea  NOT NULL,
    artifact_type     text   COLLATE "C" NOT NULL DEFAULT '',
    config_media_type text   COLLATE "C" NOT NULL DEFAULT '',
    subject           text   COLLATE "C",
    annotations       jsonb,
    os                text   COLLATE "C" NOT NULL DEFAULT '',
    architecture      text   COLLATE "C" NOT NULL DEFAULT '',
    created_at        bigint NOT NULL,
    updated_at        bigint NOT NULL,
    PRIMARY KEY (repo_id, digest)
);

-- Referrers listing: digest is in the index so results come out ordered without a sort.
CREATE INDEX manifests_subject ON manifests (repo_id, subject, digest);

-- Deleting a manifest takes its references and tags with it (ON DELETE CASCADE).
CREATE TABLE manifest_references (
    repo_id         bigint   NOT NULL,
    manifest_digest text     COLLATE "C" NOT NULL,
    ref_digest      text     COLLATE "C" NOT NULL,
    kind            smallint NOT NULL,
    PRIMARY KEY (repo_id, manifest_digest, ref_digest, kind),
    FOREIGN KEY (repo_id, manifest_digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);

-- Blob GC: "does any manifest reference this digest".
CREATE INDEX manifest_references_ref ON manifest_references (ref_digest);

CREATE TABLE tags (
    repo_id    bigint NOT NULL,
    name       text   COLLATE "C" NOT NULL,
    digest     text   COLLATE "C" NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (repo_id, name),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);

-- Tags pointing at a manifest (delete cascade, GC roots by manifest).
CREATE INDEX tags_digest ON tags (repo_id, digest);
