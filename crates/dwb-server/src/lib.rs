//! dwb's server: the HTTP application (portal and operations endpoints), its
//! configuration, first-start bootstrap and the command line.

pub mod access;
pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod bootstrap;
pub mod bounded;
pub mod cli;
pub mod cli_accounts;
pub mod cli_datasets;
pub mod config;
pub mod datasets;
pub mod derived;
pub mod error;
pub mod http;
pub mod ingest;
pub mod keys;
pub mod ledger;
pub mod portal;
pub mod sample_python;
pub mod serve;
pub mod service_accounts;
pub mod signed;
pub mod state;
pub mod sweep;
pub mod throttle;
pub mod versions;
pub mod write_rows;
