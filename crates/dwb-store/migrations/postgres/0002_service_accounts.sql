-- Service accounts, their selected data sets, token-signing keys, and the
-- change log that tells every node which accounts' credentials changed.
CREATE TABLE service_accounts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    access_kind TEXT NOT NULL,
    access_level TEXT,
    secret_digest TEXT NOT NULL,
    secret_generation BIGINT NOT NULL,
    secret_issued_at BIGINT NOT NULL,
    secret_expires_at BIGINT NOT NULL,
    api_key_digest TEXT NOT NULL UNIQUE,
    api_key_sealed TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX service_accounts_workspace ON service_accounts(workspace_id);

CREATE TABLE service_account_datasets (
    account_id TEXT NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,
    dataset_id TEXT NOT NULL,
    PRIMARY KEY (account_id, dataset_id)
);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE credential_changes (
    seq BIGSERIAL PRIMARY KEY,
    account_id TEXT NOT NULL,
    at BIGINT NOT NULL
);
