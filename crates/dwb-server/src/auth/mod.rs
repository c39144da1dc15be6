//! Machine authentication: the OAuth2 token endpoint and discovery, the
//! gateway in front of `/api/v2`, and the caches that keep both fast while
//! revocation stays immediate.

pub mod cache;
pub mod discovery;
pub mod gateway;
pub mod token;
pub mod usage;
