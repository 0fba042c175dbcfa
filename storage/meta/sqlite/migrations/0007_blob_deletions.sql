-- A blob GC is deleting: between releasing its links and deleting its bytes, a new link
-- of the same digest is refused, so a push cannot be acknowledged for bytes about to go.
CREATE TABLE blob_deletions (
    digest     TEXT    NOT NULL PRIMARY KEY,
    started_at INTEGER NOT NULL
) WITHOUT ROWID;
