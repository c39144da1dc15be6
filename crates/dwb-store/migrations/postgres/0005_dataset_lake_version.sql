-- The Delta table version a data set's row count was read at, so that of
-- two nodes recording counts at once the newer version's count stays
-- (NULL: counted before this migration, or a data set without a table).
ALTER TABLE datasets ADD COLUMN lake_version BIGINT;
