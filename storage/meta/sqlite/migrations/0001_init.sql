-- Initial schema. Kept to SQL that PostgreSQL also accepts, apart from INTEGER PRIMARY KEY
-- (an identity column there) and WITHOUT ROWID (SQLite storage layout: small rows live in
-- their primary-key b-tree, so a lookup is one b-tree descent instead of two).
-- Timestamps are unix nanoseconds. Names and digests compare in byte order (COLLATE BINARY;
-- "C" collation in PostgreSQL) so listings paginate identically everywhere.

-- A repository is a name within one registry (a server hosts several); the unique
-- (registry_id, name) index serves lookups and the per-registry catalog, in byte order.
-- Every other table cascades from here (manifest_references and tags via manifests), so
-- deleting a repository row, or all of a registry's, removes everything it held.
CREATE TABLE repositories (
    id          INTEGER PRIMARY KEY,
    registry_id TEXT    NOT NULL COLLATE BINARY,
    name        TEXT    NOT NULL COLLATE BINARY,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (registry_id, name)
);

CREATE TABLE repository_blobs (
    repo_id   INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest    TEXT    NOT NULL,
    size      INTEGER NOT NULL,
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;

-- Blob GC asks "is this digest linked anywhere since the cutoff".
CREATE INDEX repository_blobs_digest ON repository_blobs (digest, linked_at);

-- Manifests keep a rowid: their content can be large, which WITHOUT ROWID handles badly.
CREATE TABLE manifests (
    repo_id           INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest            TEXT    NOT NULL,
    media_type        TEXT    NOT NULL,
    size              INTEGER NOT NULL,
    content           BLOB    NOT NULL,
    artifact_type     TEXT    NOT NULL DEFAULT '',
    config_media_type TEXT    NOT NULL DEFAULT '',
    subject           TEXT,
    annotations       TEXT,
    os                TEXT    NOT NULL DEFAULT '',
    architecture      TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
);

-- Referrers listing: digest is in the index so results come out ordered without a sort.
CREATE INDEX manifests_subject ON manifests (repo_id, subject, digest);

-- Deleting a manifest takes its references and tags with it (ON DELETE CASCADE).
CREATE TABLE manifest_references (
    repo_id         INTEGER NOT NULL,
    manifest_digest TEXT    NOT NULL,
    ref_digest      TEXT    NOT NULL,
    kind            INTEGER NOT NULL,
    PRIMARY KEY (repo_id, manifest_digest, ref_digest, kind),
    FOREIGN KEY (repo_id, manifest_digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
) WITHOUT ROWID;

-- Blob GC: "does any manifest reference this digest".
CREATE INDEX manifest_references_ref ON manifest_references (ref_digest);

CREATE TABLE tags (
    repo_id    INTEGER NOT NULL,
    name       TEXT    NOT NULL COLLATE BINARY,
    digest     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo_id, name),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
) WITHOUT ROWID;

-- Tags pointing at a manifest (delete cascade, GC roots by manifest).
CREATE INDEX tags_digest ON tags (repo_id, digest);
