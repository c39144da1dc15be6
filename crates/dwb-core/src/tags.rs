//! Data set tags (`{key: [values]}`) and their bounds, so that a tag list
//! from a client cannot grow a data set's record without limit.

use serde_json::Value;

use crate::CoreError;

/// Most tag keys on one data set (or in one catalogue filter).
pub const MAX_TAGS: usize = 50;
/// Most values under one tag key.
pub const MAX_TAG_VALUES: usize = 50;
/// Longest tag key or tag value, in characters.
pub const MAX_TAG_CHARS: usize = 100;

fn chars_of(v: &Value) -> usize {
    match v {
        Value::String(s) => s.chars().count(),
        other => other.to_string().chars().count(),
    }
}

/// Checks tags shaped `{key: [values]}` (a value that is not a list counts
/// as one value) against [`MAX_TAGS`], [`MAX_TAG_VALUES`] and
/// [`MAX_TAG_CHARS`]; anything but an object or `null` is refused.
pub fn check(field: &'static str, tags: &Value) -> Result<(), CoreError> {
    let map = match tags {
        Value::Null => return Ok(()),
        Value::Object(m) => m,
        _ => return Err(CoreError::new(field, "must be an object {key: [values]}")),
    };
    if map.len() > MAX_TAGS {
        return Err(CoreError::new(
            field,
            format!("at most {MAX_TAGS} tag keys, got {}", map.len()),
        ));
    }
    for (key, values) in map {
        let shown: String = key.chars().take(40).collect();
        if key.trim().is_empty() || key.chars().count() > MAX_TAG_CHARS {
            return Err(CoreError::new(
                field,
                format!("tag key '{shown}' must have 1 to {MAX_TAG_CHARS} characters"),
            ));
        }
        let list = match values {
            Value::Array(a) => a.as_slice(),
            one => std::slice::from_ref(one),
        };
        if list.len() > MAX_TAG_VALUES {
            return Err(CoreError::new(
                field,
                format!(
                    "tag '{shown}' has {} values; at most {MAX_TAG_VALUES}",
                    list.len()
                ),
            ));
        }
        if list.iter().any(|v| chars_of(v) > MAX_TAG_CHARS) {
            return Err(CoreError::new(
                field,
                format!("a value of tag '{shown}' is longer than {MAX_TAG_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn tags_are_bounded_in_count_and_length() {
        assert!(check("tags", &json!(null)).is_ok());
        assert!(check("tags", &json!({"site": ["north", "south"], "n": 1})).is_ok());
        assert!(check("tags", &json!(["site"])).is_err());
        let many: serde_json::Map<_, _> = (0..=MAX_TAGS)
            .map(|i| (format!("k{i}"), json!([])))
            .collect();
        assert!(check("tags", &Value::Object(many))
            .unwrap_err()
            .message
            .contains("at most 50"));
        let long = "x".repeat(MAX_TAG_CHARS + 1);
        assert!(check("tags", &json!({ long.clone(): [] })).is_err());
        assert!(check("tags", &json!({"k": [long]})).is_err());
        assert!(check("tags", &json!({"k": vec![1; MAX_TAG_VALUES + 1]})).is_err());
        assert!(check("tags", &json!({"k": vec![1; MAX_TAG_VALUES]})).is_ok());
        assert!(check("tags", &json!({" ": []})).is_err());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,120}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..60).prop_map(Value::Array),
                proptest::collection::hash_map(".{0,110}", inner, 0..60)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_is_either_accepted_within_bounds_or_refused_with_the_field(v in json_value()) {
            match check("tags", &v) {
                Ok(()) => {
                    if let Value::Object(m) = &v {
                        prop_assert!(m.len() <= MAX_TAGS);
                        prop_assert!(m.keys().all(|k| k.chars().count() <= MAX_TAG_CHARS));
                    } else {
                        prop_assert!(v.is_null());
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e.field, "tags");
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }
}
