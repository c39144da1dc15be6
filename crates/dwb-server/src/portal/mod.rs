//! The web portal: server-rendered HTML pages for people.

pub mod activity;
pub mod api_tab;
pub mod assets;
pub mod auth;
pub mod dataset_rows;
pub mod datasets;
pub mod form;
pub mod import;
pub mod lineage;
pub mod members;
pub mod schemas;
pub mod session;
pub mod upload;
pub mod views;
pub mod workspaces;
