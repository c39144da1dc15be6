//! The one error type of the core: a rule was broken by what a user gave.

/// A value given by a user broke a rule; `field` names the input so the
/// portal and the API can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CoreError {
    pub field: &'static str,
    pub message: String,
}

impl CoreError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
