//! Text → typed value parsing, shared by CSV ingest and query filters, so both accept the same inputs.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

use crate::schema::ColumnType;

/// One parsed, non-null value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
    /// Microseconds since the Unix epoch, UTC.
    Micros(i64),
}

/// Parses `text` as a value of `ty`; `None` when it is not one. Numbers,
/// booleans and dates ignore surrounding blanks; strings are kept verbatim.
pub(crate) fn parse(ty: ColumnType, format: Option<&str>, text: &str) -> Option<Value> {
    let t = text.trim();
    match ty {
        ColumnType::String => Some(Value::Str(text.to_string())),
        ColumnType::Int32 => t.parse().ok().map(Value::I32),
        ColumnType::Int64 => t.parse().ok().map(Value::I64),
        ColumnType::Decimal | ColumnType::Double => t
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::F64),
        ColumnType::Boolean => parse_bool(t).map(Value::Bool),
        ColumnType::DateTime => {
            parse_datetime(t, format).map(|d| Value::Micros(d.timestamp_micros()))
        }
    }
}

/// `true`/`false` (any case), `1`/`0`.
pub(crate) fn parse_bool(t: &str) -> Option<bool> {
    if t.eq_ignore_ascii_case("true") || t == "1" {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") || t == "0" {
        Some(false)
    } else {
        None
    }
}

/// A date-time by chrono `format` when given (with or without an offset; a
/// date-only format means midnight UTC), else RFC 3339 or
/// `YYYY-MM-DD HH:MM:SS[.fff]` / `YYYY-MM-DDTHH:MM:SS[.fff]` taken as UTC.
pub(crate) fn parse_datetime(t: &str, format: Option<&str>) -> Option<DateTime<Utc>> {
    match format {
        Some(f) => DateTime::parse_from_str(t, f)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                NaiveDateTime::parse_from_str(t, f)
                    .ok()
                    .map(|n| Utc.from_utc_datetime(&n))
            })
            .or_else(|| {
                NaiveDate::parse_from_str(t, f)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|n| Utc.from_utc_datetime(&n))
            }),
        None => DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                    .iter()
                    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
                    .map(|n| Utc.from_utc_datetime(&n))
            }),
    }
}

/// Whether `format` is a usable chrono format string.
pub(crate) fn format_is_valid(format: &str) -> bool {
    !format.is_empty() && !StrftimeItems::new(format).any(|i| matches!(i, Item::Error))
}

/// RFC 3339 in UTC with a `Z`, fractional seconds only when present.
pub(crate) fn micros_to_rfc3339(micros: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse_in_the_default_and_custom_formats() {
        let want = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single();
        assert_eq!(parse_datetime("2026-01-02T03:04:05Z", None), want);
        assert_eq!(parse_datetime("2026-01-02T04:04:05+01:00", None), want);
        assert_eq!(parse_datetime("2026-01-02 03:04:05", None), want);
        assert_eq!(
            parse_datetime("02/01/2026 03:04:05", Some("%d/%m/%Y %H:%M:%S")),
            want
        );
        assert!(parse_datetime("2026-01-02", None).is_none());
        assert!(parse_datetime("2026-01-02", Some("%Y-%m-%d")).is_some());
        assert!(format_is_valid("%Y-%m-%d"));
        assert!(!format_is_valid("%Y-%Q"));
    }

    #[test]
    fn values_parse_by_type() {
        assert_eq!(parse(ColumnType::Int32, None, " 42 "), Some(Value::I32(42)));
        assert_eq!(parse(ColumnType::Int32, None, "3000000000"), None);
        assert_eq!(
            parse(ColumnType::Int64, None, "3000000000"),
            Some(Value::I64(3_000_000_000))
        );
        assert_eq!(
            parse(ColumnType::Decimal, None, "1.5"),
            Some(Value::F64(1.5))
        );
        assert_eq!(parse(ColumnType::Double, None, "NaN"), None);
        assert_eq!(
            parse(ColumnType::Boolean, None, "TRUE"),
            Some(Value::Bool(true))
        );
        assert_eq!(parse(ColumnType::Boolean, None, "yes"), None);
        assert_eq!(
            micros_to_rfc3339(1_000_000).as_deref(),
            Some("1970-01-01T00:00:01Z")
        );
        assert_eq!(
            micros_to_rfc3339(1_500_000).as_deref(),
            Some("1970-01-01T00:00:01.500Z")
        );
    }
}
