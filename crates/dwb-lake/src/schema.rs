//! Column types and table schemas as the API defines them, and their Arrow / Delta mapping.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::kernel::{DataType as DeltaType, StructField};

use crate::error::LakeError;

/// Most columns a schema may have.
pub const MAX_COLUMNS: usize = 500;
/// Longest column name, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// The column types of the API. `Decimal` is stored as `Float64` (a double):
/// exact decimal arithmetic is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    String,
    Int32,
    Int64,
    Decimal,
    Double,
    Boolean,
    DateTime,
}

impl ColumnType {
    /// The API name (`"Int32"`, `"DateTime"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "String",
            ColumnType::Int32 => "Int32",
            ColumnType::Int64 => "Int64",
            ColumnType::Decimal => "Decimal",
            ColumnType::Double => "Double",
            ColumnType::Boolean => "Boolean",
            ColumnType::DateTime => "DateTime",
        }
    }

    /// The Arrow type the column is stored as.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Decimal | ColumnType::Double => DataType::Float64,
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }

    fn delta_type(self) -> DeltaType {
        match self {
            ColumnType::String => DeltaType::STRING,
            ColumnType::Int32 => DeltaType::INTEGER,
            ColumnType::Int64 => DeltaType::LONG,
            ColumnType::Decimal | ColumnType::Double => DeltaType::DOUBLE,
            ColumnType::Boolean => DeltaType::BOOLEAN,
            ColumnType::DateTime => DeltaType::TIMESTAMP,
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ColumnType {
    type Err = LakeError;

    /// Parses an API type name, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const ALL: [ColumnType; 7] = [
            ColumnType::String,
            ColumnType::Int32,
            ColumnType::Int64,
            ColumnType::Decimal,
            ColumnType::Double,
            ColumnType::Boolean,
            ColumnType::DateTime,
        ];
        ALL.into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                LakeError::bad(
                    "type",
                    format!("unknown column type '{s}' (expected one of String, Int32, Int64, Decimal, Double, Boolean, DateTime)"),
                )
            })
    }
}

/// One column of a schema version.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub display_name: String,
    pub ty: ColumnType,
    /// For `DateTime`: a chrono format string (`%Y-%m-%d %H:%M`); `None` means
    /// RFC 3339 or `YYYY-MM-DD HH:MM:SS[.f]` (UTC).
    pub format: Option<String>,
    pub required: bool,
    pub sortable: bool,
    pub filterable: bool,
    pub key: bool,
    pub order: i32,
}

impl Column {
    /// A column with the given name and type; not required, sortable and filterable.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        let name = name.into();
        Column {
            display_name: name.clone(),
            name,
            ty,
            format: None,
            required: false,
            sortable: true,
            filterable: true,
            key: false,
            order: 0,
        }
    }

    /// The same column, required (empty values are rejected).
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The name of the column in Parquet files and the Delta log (see [`physical_name`]).
    pub fn physical_name(&self) -> String {
        physical_name(&self.name)
    }
}

/// The columns of a data set, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub columns: Vec<Column>,
}

impl TableSchema {
    /// Builds a validated schema.
    pub fn new(columns: Vec<Column>) -> Result<Self, LakeError> {
        let schema = TableSchema { columns };
        schema.validate()?;
        Ok(schema)
    }

    /// Checks 1..=500 columns, names of 1..=128 characters without control
    /// characters, unique ignoring case (Delta column names are case-insensitive).
    pub fn validate(&self) -> Result<(), LakeError> {
        if self.columns.is_empty() || self.columns.len() > MAX_COLUMNS {
            return Err(LakeError::bad(
                "columns",
                format!(
                    "a schema has 1 to {MAX_COLUMNS} columns, got {}",
                    self.columns.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (i, c) in self.columns.iter().enumerate() {
            let field = format!("columns[{i}].name");
            let chars = c.name.chars().count();
            if chars == 0 || chars > MAX_NAME_CHARS {
                return Err(LakeError::bad(
                    field,
                    format!("a column name has 1 to {MAX_NAME_CHARS} characters"),
                ));
            }
            if c.name.chars().any(char::is_control) {
                return Err(LakeError::bad(
                    field,
                    "a column name cannot contain control characters",
                ));
            }
            if !seen.insert(c.name.to_lowercase()) {
                return Err(LakeError::bad(
                    field,
                    format!("duplicate column name '{}'", c.name),
                ));
            }
            if let Some(f) = c.format.as_deref().filter(|_| c.ty == ColumnType::DateTime) {
                if !crate::values::format_is_valid(f) {
                    return Err(LakeError::bad(
                        format!("columns[{i}].format"),
                        format!("'{f}' is not a date-time format"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The column called `name` (exact match), with its index.
    pub fn column(&self, name: &str) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
    }

    /// The Arrow schema of the stored table (physical names, all nullable).
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(c.physical_name(), c.ty.arrow_type(), true))
            .collect();
        Arc::new(Schema::new(fields))
    }

    pub(crate) fn delta_fields(&self) -> Vec<StructField> {
        self.columns
            .iter()
            .map(|c| StructField::new(c.physical_name(), c.ty.delta_type(), true))
            .collect()
    }
}

/// Characters Parquet and Delta (without column mapping) refuse in column
/// names, plus `.` (a path separator in stats) and `%` (the escape itself).
const ESCAPED: &[char] = &[' ', ',', ';', '{', '}', '(', ')', '\n', '\t', '=', '.', '%'];

/// The stored name of a column: the API name with the characters that Delta
/// refuses percent-escaped (`"a b;c"` → `"a%20b%3Bc"`). Injective, so unique
/// API names stay unique; quotes and non-ASCII letters are kept as they are.
pub fn physical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        if ESCAPED.contains(&ch) {
            out.push_str(&format!("%{:02X}", ch as u32));
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip_and_ignore_case() {
        for t in [
            "String", "Int32", "Int64", "Decimal", "Double", "Boolean", "DateTime",
        ] {
            assert_eq!(
                ColumnType::from_str(t).map(|t| t.to_string()).ok(),
                Some(t.to_string())
            );
        }
        assert_eq!(
            ColumnType::from_str("datetime").ok(),
            Some(ColumnType::DateTime)
        );
        assert!(ColumnType::from_str("Float").is_err());
    }

    #[test]
    fn schema_validation_rejects_bad_shapes() {
        assert!(TableSchema::new(vec![]).is_err());
        let long = "x".repeat(129);
        assert!(TableSchema::new(vec![Column::new(long, ColumnType::String)]).is_err());
        let dup = vec![
            Column::new("a", ColumnType::String),
            Column::new("A", ColumnType::Int32),
        ];
        assert!(
            matches!(TableSchema::new(dup), Err(LakeError::BadInput { field, .. }) if field == "columns[1].name")
        );
        let many = (0..501)
            .map(|i| Column::new(format!("c{i}"), ColumnType::Int64))
            .collect();
        assert!(TableSchema::new(many).is_err());
        assert!(TableSchema::new(vec![Column::new("ünï \"q\";", ColumnType::Int64)]).is_ok());
    }

    #[test]
    fn physical_names_escape_only_what_delta_refuses() {
        assert_eq!(physical_name("a b;c"), "a%20b%3Bc");
        assert_eq!(physical_name("100%"), "100%25");
        assert_eq!(physical_name("naïve \"x\""), "naïve%20\"x\"");
    }
}
