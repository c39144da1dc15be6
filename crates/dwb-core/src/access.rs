//! What a service account may reach: all of its workspace at a level, or
//! only selected data sets (read-only).

use uuid::Uuid;

use crate::CoreError;

/// The workspace access level of an all-data account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Reader,
    Admin,
}

impl Level {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, CoreError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "reader" => Ok(Self::Reader),
            "admin" => Ok(Self::Admin),
            _ => Err(CoreError::new(field, "must be Reader or Admin")),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "Reader",
            Self::Admin => "Admin",
        }
    }
}

/// "Grant all workspace data" with a level, or "Select data sets manually".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Workspace(Level),
    Datasets(Vec<Uuid>),
}

pub const MAX_SELECTED_DATASETS: usize = 1000;

impl Access {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Workspace(_) => "workspace",
            Self::Datasets(_) => "datasets",
        }
    }
    pub fn level(&self) -> Option<Level> {
        match self {
            Self::Workspace(l) => Some(*l),
            Self::Datasets(_) => None,
        }
    }
    /// A data set list without duplicates and within bounds.
    pub fn datasets(field: &'static str, ids: Vec<Uuid>) -> Result<Self, CoreError> {
        let mut ids = ids;
        ids.sort();
        ids.dedup();
        if ids.len() > MAX_SELECTED_DATASETS {
            return Err(CoreError::new(
                field,
                format!("may list at most {MAX_SELECTED_DATASETS} data sets"),
            ));
        }
        Ok(Self::Datasets(ids))
    }
    /// A short description for people: "all workspace data (Reader)", "2 selected data sets".
    pub fn describe(&self) -> String {
        match self {
            Self::Workspace(l) => format!("all workspace data ({})", l.as_str()),
            Self::Datasets(ids) if ids.len() == 1 => "1 selected data set".into(),
            Self::Datasets(ids) => format!("{} selected data sets", ids.len()),
        }
    }
}
