-- Ledger events are ordered and paged by `seq`; their `id` is a random UUID
-- made by the server, never looked up. Its UNIQUE index made every insert
-- a B-tree insert at a random place; it is dropped.
ALTER TABLE ledger_events DROP CONSTRAINT ledger_events_id_key;
