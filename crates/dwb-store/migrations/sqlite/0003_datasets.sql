-- Schemas (versioned column definitions) and data sets (Delta tables in the
-- lake; a derived data set is a saved view of a base data set).
CREATE TABLE schemas (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    short_name TEXT NOT NULL,
    description TEXT NOT NULL,
    default_version_id TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE schema_versions (
    id TEXT PRIMARY KEY,
    schema_id TEXT NOT NULL REFERENCES schemas(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    columns TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (schema_id, version)
);

CREATE TABLE datasets (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    schema_version_id TEXT NOT NULL REFERENCES schema_versions(id),
    base_dataset_id TEXT REFERENCES datasets(id) ON DELETE CASCADE,
    queries TEXT NOT NULL,
    columns TEXT NOT NULL,
    tags TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_by TEXT NOT NULL,
    modified_at INTEGER NOT NULL
);
CREATE INDEX datasets_workspace ON datasets(workspace_id, name);
