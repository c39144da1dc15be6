//! Data sets as Delta Lake tables: CSV ingest, schema mapping, API filters
//! as DataFusion expressions, paging. Kept apart because DataFusion and
//! deltalake compile slowly.
