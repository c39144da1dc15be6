//! Parse, don't validate: names, emails, regions and roles become types once,
//! at the edge, with a message naming the field when they are wrong.

use crate::CoreError;

pub const MAX_NAME_LEN: usize = 100;
pub const MAX_DESCRIPTION_LEN: usize = 1000;
pub const MAX_EMAIL_LEN: usize = 254;

fn trimmed_text(
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, CoreError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(CoreError::new(field, "is required"));
    }
    if v.chars().count() > max {
        return Err(CoreError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(CoreError::new(field, "must not contain control characters"));
    }
    Ok(v.to_string())
}

/// A required, trimmed name of 1 to 100 characters (workspaces, people, accounts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, CoreError> {
        let v = trimmed_text(field, value, MAX_NAME_LEN, true)?;
        if v.contains(['\n', '\r', '\t']) {
            return Err(CoreError::new(field, "must be a single line"));
        }
        Ok(Self(v))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// An optional description of at most 1000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, CoreError> {
        trimmed_text(field, value, MAX_DESCRIPTION_LEN, false).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// An email address, trimmed and lower-cased so that look-ups ignore case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, CoreError> {
        let v = value.trim().to_lowercase();
        if v.is_empty() {
            return Err(CoreError::new(field, "is required"));
        }
        if v.len() > MAX_EMAIL_LEN {
            return Err(CoreError::new(
                field,
                format!("must be at most {MAX_EMAIL_LEN} characters"),
            ));
        }
        let bad = || CoreError::new(field, "must be an email address like name@example.com");
        let (local, domain) = v.split_once('@').ok_or_else(bad)?;
        let domain_ok = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if !domain_ok || !local_ok {
            return Err(bad());
        }
        Ok(Self(v))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Where a workspace's data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Eu,
    Us,
}

impl Region {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, CoreError> {
        match value.trim().to_ascii_uppercase().as_str() {
            "EU" => Ok(Self::Eu),
            "US" => Ok(Self::Us),
            _ => Err(CoreError::new(field, "must be EU or US")),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eu => "EU",
            Self::Us => "US",
        }
    }
}

/// A person's role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Reader,
    Admin,
}

impl Role {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, CoreError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Self::Admin),
            "reader" => Ok(Self::Reader),
            _ => Err(CoreError::new(field, "must be admin or reader")),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Reader => "reader",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("name", "  Demo ").unwrap().as_str(), "Demo");
        assert_eq!(
            Name::parse("name", "   ").unwrap_err().message,
            "is required"
        );
        assert!(Name::parse("name", &"x".repeat(100)).is_ok());
        assert_eq!(
            Name::parse("name", &"x".repeat(101)).unwrap_err().field,
            "name"
        );
        assert!(Name::parse("name", "a\nb").is_err());
        assert!(Name::parse("name", "<script>alert(1)</script>").is_ok());
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("email", " Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.org",
            "a b@x.org",
            "ann@x..org",
            "ann@.x.org",
            "a@b@c",
        ] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
        assert!(Email::parse("email", "a.b+tag@sub.example.org").is_ok());
        assert!(Email::parse("email", "admin@localhost").is_ok());
    }

    #[test]
    fn regions_and_roles() {
        assert_eq!(Region::parse("region", "eu").unwrap(), Region::Eu);
        assert!(Region::parse("region", "ASIA").is_err());
        assert_eq!(Role::parse("role", "Admin").unwrap(), Role::Admin);
        assert!(Role::parse("role", "owner").is_err());
        assert!(Description::parse("description", &"d".repeat(1001)).is_err());
        assert_eq!(Description::parse("description", "").unwrap().as_str(), "");
    }
}
