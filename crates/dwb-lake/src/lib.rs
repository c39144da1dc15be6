//! Data sets as Delta Lake tables: CSV ingest, schema mapping, API filters
//! as DataFusion expressions, paging. Kept apart because DataFusion and
//! deltalake compile slowly.
//!
//! Storage mapping: `String` → Utf8, `Int32` → Int32, `Int64` → Int64,
//! `Decimal` and `Double` → Float64, `Boolean` → Boolean, `DateTime` →
//! Timestamp(Microsecond, "UTC"). Column names are stored percent-escaped
//! where Delta refuses a character (see [`physical_name`]).

mod backup;
mod batch;
mod cluster;
mod counts;
mod error;
mod files;
mod infer;
mod ingest;
mod lake;
mod ordered_scan;
mod parse;
mod query;
mod read;
mod row_groups;
mod schema;
mod seek;
mod split;
mod stores;
mod sweep;
mod tally;
mod values;

pub use backup::TableCopy;
pub use error::{LakeError, Unwritable};
pub use files::{FileStream, TableFile};
pub use infer::infer_schema;
pub use ingest::{IngestReport, WriteMode};
pub use lake::{Lake, RowCount};
pub use parse::{BATCH_ROWS, MAX_ERRORS, MAX_LINE_BYTES, MAX_RECORD_BYTES};
pub use query::{
    Filter, FilterOp, RowPage, RowQuery, Sort, DEFAULT_PAGE_SIZE, MAX_FILTERS, MAX_FILTER_VALUES,
    MAX_PAGE_SIZE, MAX_VALUE_CHARS,
};
pub use schema::{physical_name, Column, ColumnType, TableSchema, MAX_COLUMNS, MAX_NAME_CHARS};
pub use sweep::LakeFolder;
