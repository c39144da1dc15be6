//! dwb's server: the HTTP application (portal and operations endpoints), its
//! configuration, first-start bootstrap and the command line.

pub mod access;
pub mod app;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod ledger;
pub mod portal;
pub mod serve;
pub mod state;
pub mod throttle;
