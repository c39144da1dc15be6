-- Ingest jobs: a CSV upload (through a signed URL) that creates a data set
-- or appends to / overwrites one, with its status and the file's errors.
CREATE TABLE ingest_jobs (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    operation TEXT NOT NULL,
    dataset_id TEXT,
    dataset_name TEXT NOT NULL,
    dataset_description TEXT NOT NULL,
    schema_version_id TEXT,
    tags TEXT NOT NULL,
    file_name TEXT NOT NULL,
    provider TEXT NOT NULL,
    start_automatically INTEGER NOT NULL,
    status TEXT NOT NULL,
    row_count INTEGER,
    errors TEXT NOT NULL,
    principal_kind TEXT NOT NULL,
    principal_id TEXT,
    principal_name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX ingest_jobs_workspace ON ingest_jobs(workspace_id, created_at);
