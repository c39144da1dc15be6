//! The integration tests of dwb-server: the real application on port 0 with
//! a fresh database per test, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod api_tab;
mod browser;
mod browser_api;
mod browser_datasets;
mod cli;
mod crash;
mod datasets;
mod helpers;
mod ingest;
mod matrix;
mod openapi;
mod ops;
mod portal;
mod portal_rows;
mod python;
