-- ACR's changeable attributes (storage/meta/acr.go) on repositories, tags and manifests,
-- every one true (enabled) unless changed. Adding a column with a constant default
-- rewrites nothing (PostgreSQL 11+).
ALTER TABLE repositories
    ADD COLUMN delete_enabled boolean NOT NULL DEFAULT true,
    ADD COLUMN write_enabled  boolean NOT NULL DEFAULT true,
    ADD COLUMN read_enabled   boolean NOT NULL DEFAULT true,
    ADD COLUMN list_enabled   boolean NOT NULL DEFAULT true;

ALTER TABLE tags
    ADD COLUMN delete_enabled boolean NOT NULL DEFAULT true,
    ADD COLUMN write_enabled  boolean NOT NULL DEFAULT true,
    ADD COLUMN read_enabled   boolean NOT NULL DEFAULT true,
    ADD COLUMN list_enabled   boolean NOT NULL DEFAULT true;

ALTER TABLE manifests
    ADD COLUMN delete_enabled boolean NOT NULL DEFAULT true,
    ADD COLUMN write_enabled  boolean NOT NULL DEFAULT true,
    ADD COLUMN read_enabled   boolean NOT NULL DEFAULT true,
    ADD COLUMN list_enabled   boolean NOT NULL DEFAULT true;

-- /acr/v1 listings by last update time (orderby=timeasc|timedesc) page through these in
-- order, forwards or backwards, from the (updated_at, name) of the previous page's last item.
CREATE INDEX tags_updated ON tags (repo_id, updated_at, name);
CREATE INDEX manifests_updated ON manifests (repo_id, updated_at, digest);

-- The listed tags of one manifest (the tags of a manifest in /acr/v1, and _tags?digest=),
-- in name order, from the index alone. It serves every query tags_digest served.
DROP INDEX tags_digest;
CREATE INDEX tags_digest_listed ON tags (repo_id, digest, list_enabled, name);
