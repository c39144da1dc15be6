//! The integration tests of dwb-server: the real application on port 0 with
//! a fresh database per test, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod api_tab;
mod backup;
mod browser;
mod browser_api;
mod browser_datasets;
mod cli;
mod crash;
mod datasets;
mod faults;
mod helpers;
mod hostile;
mod ingest;
mod matrix;
mod openapi;
mod ops;
mod outage;
mod portal;
mod portal_matrix;
mod portal_rows;
mod python;
