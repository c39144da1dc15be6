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
        ColumnType::DateTime => parse_micros(t, format).map(Value::Micros),
    }
}

/// Whether `text` (not blank) is a value of `ty`.
pub(crate) fn is_value(ty: ColumnType, format: Option<&str>, text: &str) -> bool {
    parse(ty, format, text).is_some()
}

/// Microseconds since the Unix epoch of a date-time text (see
/// [`parse_datetime`]), with a fast path for the usual shapes.
pub(crate) fn parse_micros(t: &str, format: Option<&str>) -> Option<i64> {
    if format.is_none() {
        if let Some(m) = fast_micros(t.as_bytes()) {
            return Some(m);
        }
    }
    parse_datetime(t, format).map(|d| d.timestamp_micros())
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM]` (no zone: UTC) without the
/// general parser; `None` for any other shape (the general parser decides).
fn fast_micros(t: &[u8]) -> Option<i64> {
    let digit = |i: usize| -> Option<i64> {
        let c = *t.get(i)?;
        c.is_ascii_digit().then(|| i64::from(c - b'0'))
    };
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    if t.len() < 19
        || t[4] != b'-'
        || t[7] != b'-'
        || !(t[10] == b'T' || t[10] == b' ')
        || t[13] != b':'
        || t[16] != b':'
    {
        return None;
    }
    let year = two(0)? * 100 + two(2)?;
    let (month, day) = (two(5)?, two(8)?);
    let (h, mi, s) = (two(11)?, two(14)?, two(17)?);
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    let mut i = 19;
    let mut micros = 0;
    if t.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        let mut scale = 100_000;
        while let Some(d) = digit(i) {
            micros += d * scale;
            scale /= 10;
            i += 1;
        }
        if i == start || i - start > 9 {
            return None;
        }
    }
    let offset = match &t[i..] {
        b"" | b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (two(i + 1)?, two(i + 4)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    Some((days * 86_400 + h * 3600 + mi * 60 + s - offset) * 1_000_000 + micros)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar;
/// `None` when there is no such date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=month_days).contains(&day) {
        return None;
    }
    // Years start in March, so that a leap day ends its year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
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
    use chrono::Datelike;

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
    fn days_from_civil_agrees_with_chrono_on_every_date() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let mut date = NaiveDate::from_ymd_opt(0, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();
        while date <= last {
            let (y, m, d) = (date.year(), date.month(), date.day());
            assert_eq!(
                days_from_civil(y.into(), m.into(), d.into()),
                Some((date - epoch).num_days()),
                "{date}"
            );
            date = date.succ_opt().unwrap();
        }
        for y in [1900, 2000, 2023, 2024, 2100] {
            for m in 0..=13 {
                for d in 0..=32 {
                    let exists = u32::try_from(m)
                        .ok()
                        .and_then(|m| NaiveDate::from_ymd_opt(y, m, d))
                        .is_some();
                    assert_eq!(
                        days_from_civil(y.into(), m.into(), d.into()).is_some(),
                        exists,
                        "{y}-{m}-{d}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_fast_datetime_path_agrees_with_the_general_parser() {
        for t in [
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05",
            "2026-01-02 03:04:05",
            "2026-01-02T03:04:05.1Z",
            "2026-01-02T03:04:05.123456Z",
            "2026-01-02T03:04:05.123456789Z",
            "2026-01-02T04:04:05+01:00",
            "2026-01-02T00:04:05-03:30",
            "1960-02-29T23:59:59.5Z",
            "2024-02-29 12:00:00.250",
            "0001-01-01T00:00:00Z",
        ] {
            let general = parse_datetime(t, None).map(|d| d.timestamp_micros());
            assert!(general.is_some(), "{t}");
            assert_eq!(fast_micros(t.as_bytes()), general, "{t}");
        }
        // Shapes the fast path leaves to the general parser, which decides.
        for t in [
            "2026-02-30T00:00:00Z",
            "2026-01-02T24:00:00Z",
            "2026-01-02T03:04:05.Z",
            "2026-01-02T03:04:05+0100",
            "2026-01-02T03:04:05 Z",
            "2026-01-02",
            "2026-1-02T03:04:05Z",
            "２026-01-02T03:04:05Z",
        ] {
            assert_eq!(fast_micros(t.as_bytes()), None, "{t}");
            assert_eq!(
                parse_micros(t, None),
                parse_datetime(t, None).map(|d| d.timestamp_micros()),
                "{t}"
            );
        }
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
