//! HTTP plumbing shared by every route: correlation ids, logs, metrics,
//! security headers and the operations endpoints.

pub mod metrics;
pub mod middleware;
pub mod ops;
