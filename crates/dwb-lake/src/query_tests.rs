//! Hostile row queries: any filters, sorting and paging either plan or fail
//! with a `BadInput` naming the API field, and every bound holds.

use proptest::prelude::*;
use serde_json::{json, Value as Json};

use super::*;

fn schema() -> TableSchema {
    let mut columns = vec![
        Column::new("s", ColumnType::String),
        Column::new("i", ColumnType::Int32),
        Column::new("l", ColumnType::Int64),
        Column::new("d", ColumnType::Decimal),
        Column::new("f", ColumnType::Double),
        Column::new("b", ColumnType::Boolean),
        Column::new("t", ColumnType::DateTime),
        Column::new("q\"u';o -- ../x", ColumnType::String),
    ];
    let mut hidden = Column::new("hidden", ColumnType::String);
    hidden.filterable = false;
    hidden.sortable = false;
    columns.push(hidden);
    let mut fmt = Column::new("tf", ColumnType::DateTime);
    fmt.format = Some("%d/%m/%Y %H:%M".into());
    columns.push(fmt);
    TableSchema::new(columns).unwrap()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        Just("'; DROP TABLE t; --".to_string()),
        Just("../../etc/passwd".to_string()),
        Just("\"quoted\"".to_string()),
        Just("2026-01-01T00:00:00Z".to_string()),
        Just("9223372036854775808".to_string()),
        Just("1e400".to_string()),
        Just("NaN".to_string()),
        Just("%_\\".to_string()),
    ]
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Json::from),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            proptest::collection::hash_map(text(), inner, 0..3)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

fn column_name() -> impl Strategy<Value = String> {
    let names = schema()
        .columns
        .into_iter()
        .map(|c| c.name)
        .collect::<Vec<_>>();
    prop_oneof![3 => proptest::sample::select(names), 1 => text()]
}

fn op() -> impl Strategy<Value = FilterOp> {
    proptest::sample::select(OPS.iter().map(|(o, _)| *o).collect::<Vec<_>>())
}

fn filter() -> impl Strategy<Value = Filter> {
    (
        column_name(),
        op(),
        proptest::collection::vec(json_value(), 0..4),
    )
        .prop_map(|(column, op, values)| Filter { column, op, values })
}

fn query() -> impl Strategy<Value = RowQuery> {
    (
        any::<i64>(),
        prop_oneof![any::<i64>(), 0..20_000i64],
        proptest::option::of(proptest::collection::vec(column_name(), 0..4)),
        proptest::collection::vec(filter(), 0..5),
        proptest::option::of((column_name(), any::<bool>())),
    )
        .prop_map(|(page_index, page_size, columns, filters, sort)| RowQuery {
            page_index,
            page_size,
            columns,
            filters,
            sort: sort.map(|(column, descending)| Sort { column, descending }),
        })
}

const FIELDS: [&str; 6] = [
    "pageIndex",
    "pageSize",
    "columnFilter[",
    "queryFilters",
    "sorting.column",
    "filterType",
];

proptest! {
    #[test]
    fn any_query_plans_or_names_the_field_at_fault(q in query()) {
        let schema = schema();
        match q.plan(&schema) {
            Ok(p) => {
                prop_assert!(p.page_index >= 1);
                prop_assert!((1..=MAX_PAGE_SIZE).contains(&p.page_size));
                prop_assert!(q.filters.len() <= MAX_FILTERS);
            }
            Err(LakeError::BadInput { field, message }) => {
                prop_assert!(FIELDS.iter().any(|f| field.starts_with(f)), "{field}: {message}");
                prop_assert!(!message.is_empty());
            }
            Err(other) => prop_assert!(false, "not a BadInput: {other}"),
        }
    }

    #[test]
    fn string_filters_take_any_text_as_a_literal(values in proptest::collection::vec(text(), 1..5)) {
        let q = RowQuery {
            filters: vec![Filter {
                column: "q\"u';o -- ../x".into(),
                op: FilterOp::Contains,
                values: values.into_iter().map(Json::from).collect(),
            }],
            ..RowQuery::default()
        };
        prop_assert!(q.check(&schema()).is_ok());
    }
}

fn bad_field(q: &RowQuery) -> String {
    match q.check(&schema()) {
        Err(LakeError::BadInput { field, message }) => format!("{field}: {message}"),
        other => format!("{other:?}"),
    }
}

fn equals(values: Vec<Json>) -> Filter {
    Filter {
        column: "s".into(),
        op: FilterOp::List,
        values,
    }
}

#[test]
fn filter_counts_values_and_lengths_are_bounded() {
    let ok = RowQuery {
        filters: vec![equals(vec![json!("a")]); MAX_FILTERS],
        ..RowQuery::default()
    };
    assert!(ok.check(&schema()).is_ok());
    let many = RowQuery {
        filters: vec![equals(vec![json!("a")]); MAX_FILTERS + 1],
        ..RowQuery::default()
    };
    assert_eq!(
        bad_field(&many),
        "queryFilters: at most 100 filters, got 101"
    );

    let list = RowQuery {
        filters: vec![equals(vec![json!("v"); MAX_FILTER_VALUES + 1])],
        ..RowQuery::default()
    };
    assert_eq!(
        bad_field(&list),
        "queryFilters[0].filterValues: at most 1000 values, got 1001"
    );
    let full = RowQuery {
        filters: vec![equals(vec![json!("v"); MAX_FILTER_VALUES])],
        ..RowQuery::default()
    };
    assert!(full.check(&schema()).is_ok());

    let long = RowQuery {
        filters: vec![equals(vec![
            json!("a"),
            json!("é".repeat(MAX_VALUE_CHARS + 1)),
        ])],
        ..RowQuery::default()
    };
    assert!(bad_field(&long).starts_with("queryFilters[0].filterValues[1]: "));
    let longest = RowQuery {
        filters: vec![equals(vec![json!("é".repeat(MAX_VALUE_CHARS))])],
        ..RowQuery::default()
    };
    assert!(longest.check(&schema()).is_ok());
}

#[test]
fn huge_and_odd_numbers_are_refused_by_type() {
    let q = |column: &str, v: Json| RowQuery {
        filters: vec![Filter {
            column: column.into(),
            op: FilterOp::Equals,
            values: vec![v],
        }],
        ..RowQuery::default()
    };
    assert!(bad_field(&q("i", json!(1u64 << 40))).starts_with("queryFilters[0].filterValues[0]"));
    assert!(bad_field(&q("l", json!(u64::MAX))).starts_with("queryFilters[0].filterValues[0]"));
    assert!(bad_field(&q("f", json!("1e400"))).starts_with("queryFilters[0].filterValues[0]"));
    assert!(bad_field(&q("b", json!({"x": 1}))).starts_with("queryFilters[0].filterValues[0]"));
    assert!(q("l", json!(i64::MIN)).check(&schema()).is_ok());
    assert!(bad_field(&RowQuery {
        page_index: i64::MIN,
        ..RowQuery::default()
    })
    .starts_with("pageIndex"));
}
