//! Rules of dwb without I/O: validation of what users type, passwords and
//! secrets, who may do what, and time as a parameter.

pub mod access;
pub mod clock;
pub mod credentials;
pub mod crypto;
pub mod error;
pub mod jwt;
pub mod paging;
pub mod password;
pub mod policy;
pub mod principal;
pub mod secret;
pub mod tags;
pub mod validate;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::CoreError;
