-- ACR's changeable attributes (storage/meta/acr.go) on repositories, tags and manifests:
-- booleans as 0/1, every one 1 (enabled) unless changed. Adding a column with a constant
-- default rewrites nothing in SQLite (nor in PostgreSQL 11+).
ALTER TABLE repositories ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE repositories ADD COLUMN write_enabled  INTEGER NOT NULL DEFAULT 1;
ALTER TABLE repositories ADD COLUMN read_enabled   INTEGER NOT NULL DEFAULT 1;
ALTER TABLE repositories ADD COLUMN list_enabled   INTEGER NOT NULL DEFAULT 1;

ALTER TABLE tags ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN write_enabled  INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN read_enabled   INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN list_enabled   INTEGER NOT NULL DEFAULT 1;

ALTER TABLE manifests ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN write_enabled  INTEGER NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN read_enabled   INTEGER NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN list_enabled   INTEGER NOT NULL DEFAULT 1;

-- /acr/v1 listings by last update time (orderby=timeasc|timedesc) page through these in
-- order, forwards or backwards, from the (updated_at, name) of the previous page's last item.
CREATE INDEX tags_updated ON tags (repo_id, updated_at, name);
CREATE INDEX manifests_updated ON manifests (repo_id, updated_at, digest);

-- The listed tags of one manifest (the tags of a manifest in /acr/v1, and _tags?digest=):
-- with list_enabled in the index, and name in it as the table's key, the lookup is
-- covering and in name order. It serves every query tags_digest served.
DROP INDEX tags_digest;
CREATE INDEX tags_digest_listed ON tags (repo_id, digest, list_enabled);
