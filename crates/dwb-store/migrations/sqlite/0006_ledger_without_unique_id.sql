-- Ledger events are ordered and paged by `seq`; their `id` is a random UUID
-- made by the server, never looked up. Its UNIQUE index made every insert
-- a B-tree insert at a random place, and cut the rate at which API-call
-- events can be written by more than half. SQLite cannot drop an inline
-- UNIQUE constraint: the table is rebuilt without it (same columns, same
-- `seq` values; AUTOINCREMENT carries on from the largest).
CREATE TABLE ledger_events_new (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    workspace_id TEXT,
    at INTEGER NOT NULL,
    principal_kind TEXT NOT NULL,
    principal_id TEXT,
    principal_name TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT,
    resource_name TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
INSERT INTO ledger_events_new (seq, id, tenant_id, workspace_id, at, principal_kind, principal_id,
    principal_name, action, resource_kind, resource_id, resource_name, outcome, detail)
SELECT seq, id, tenant_id, workspace_id, at, principal_kind, principal_id,
    principal_name, action, resource_kind, resource_id, resource_name, outcome, detail
FROM ledger_events;
DROP TABLE ledger_events;
ALTER TABLE ledger_events_new RENAME TO ledger_events;
CREATE INDEX ledger_events_workspace ON ledger_events(workspace_id, seq);
