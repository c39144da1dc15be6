//! Derived data sets: a saved view (row filters and a column subset) of a base data set, checked against its schema; a view of a view is flattened onto the base with both sets of filters.

use dwb_lake::{Filter, FilterOp, RowQuery};
use dwb_store::{Dataset, Workspace};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::datasets::{parse_filters, DataError, DataOps};
use crate::ledger::{event, Actor, Resource};

/// What the caller asks for.
#[derive(Debug, Clone, Default)]
pub struct NewDerived {
    pub name: String,
    pub description: String,
    /// `[{column, filterType, filterValues}]`.
    pub queries: Value,
    /// Column names; empty keeps the source's columns.
    pub columns: Vec<String>,
    pub tags: Value,
}

fn invalid(field: &str, message: impl Into<String>) -> DataError {
    DataError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The lake names fields as in a row query; a derived data set calls them `queries` and `columns`.
fn renamed(e: DataError) -> DataError {
    match e {
        DataError::Invalid { field, message } => {
            let field = if let Some(rest) = field.strip_prefix("queryFilters") {
                format!("queries{rest}")
            } else if let Some(rest) = field.strip_prefix("columnFilter") {
                format!("columns{rest}")
            } else {
                field
            };
            DataError::Invalid { field, message }
        }
        other => other,
    }
}

/// The strings of a JSON array (a derived data set's columns).
pub(crate) fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A filter as a person reads it: "channel equals C", "value is between 1 and 5".
pub fn in_words(f: &Filter) -> String {
    let shown: Vec<String> = f
        .values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let any = |sep: &str| shown.join(sep);
    let first = shown.first().cloned().unwrap_or_default();
    let what = match f.op {
        FilterOp::Equals | FilterOp::List if shown.len() > 1 => format!("is one of {}", any(", ")),
        FilterOp::Equals | FilterOp::List => format!("equals {first}"),
        FilterOp::Greater => format!("is greater than {first}"),
        FilterOp::GreaterOrEqual => format!("is at least {first}"),
        FilterOp::Less => format!("is less than {first}"),
        FilterOp::LessOrEqual => format!("is at most {first}"),
        FilterOp::Contains => format!("contains {}", any(" or ")),
        FilterOp::Between => format!("is between {}", any(" and ")),
    };
    format!("{} {what}", f.column)
}

impl DataOps<'_> {
    /// Creates a derived data set of `source` (base or derived) in `ws`.
    pub async fn derive(
        &self,
        actor: &Actor,
        ws: &Workspace,
        source: &Dataset,
        new: NewDerived,
    ) -> Result<Dataset, DataError> {
        let name = dwb_core::validate::Name::parse("name", &new.name)
            .map_err(|e| invalid("name", e.message))?;
        let description = dwb_core::validate::Description::parse("description", &new.description)
            .map_err(|e| invalid("description", e.message))?;
        dwb_core::tags::check("tags", &new.tags).map_err(|e| invalid("tags", e.message))?;
        let known = self.version(ws, source.schema_version_id).await?;
        let table = &known.table;
        let filters = parse_filters(&new.queries, "queries")?;
        // The source's own column subset bounds what the new view may show or filter on.
        let visible = names(&source.columns);
        let outside = |c: &str| !visible.is_empty() && !visible.iter().any(|v| v == c);
        if let Some((i, c)) = new.columns.iter().enumerate().find(|(_, c)| outside(c)) {
            return Err(invalid(
                &format!("columns[{i}]"),
                format!("unknown column {c:?}"),
            ));
        }
        if let Some((i, f)) = filters.iter().enumerate().find(|(_, f)| outside(&f.column)) {
            return Err(invalid(
                &format!("queries[{i}].column"),
                format!("unknown column {:?}", f.column),
            ));
        }
        let check = RowQuery {
            page_index: 1,
            page_size: 1,
            columns: Some(new.columns.clone()),
            filters: filters.clone(),
            sort: None,
        };
        check.check(table).map_err(|e| renamed(e.into()))?;
        let base = source.base_dataset_id.unwrap_or(source.id);
        let mut queries = source.queries.as_array().cloned().unwrap_or_default();
        queries.extend(new.queries.as_array().cloned().unwrap_or_default());
        let columns = if new.columns.is_empty() {
            visible
        } else {
            new.columns
        };
        let now = self.now;
        let mut d = Dataset {
            id: Uuid::new_v4(),
            workspace_id: ws.id,
            name: name.into_string(),
            description: description.as_str().into(),
            schema_version_id: source.schema_version_id,
            base_dataset_id: Some(base),
            queries: Value::Array(queries),
            columns: json!(columns),
            tags: if new.tags.is_null() {
                json!({})
            } else {
                new.tags
            },
            row_count: 0,
            created_by: actor.name.clone(),
            created_at: now,
            modified_by: actor.name.clone(),
            modified_at: now,
        };
        let probe = RowQuery {
            page_index: 1,
            page_size: 1,
            columns: None,
            filters: Vec::new(),
            sort: None,
        };
        d.row_count = self.rows(ws, &d, probe).await.map_err(renamed)?.total_count;
        let mut e = event(
            actor,
            ws.tenant_id,
            Some(ws.id),
            now,
            "DatasetDerived",
            Resource {
                kind: "dataset",
                id: d.id.to_string(),
                name: &d.name,
            },
        );
        e.detail = json!({"source": source.id, "base": base, "rows": d.row_count});
        self.store.create_dataset(&d, e).await?;
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(column: &str, op: FilterOp, values: Value) -> String {
        let values = values.as_array().cloned().unwrap_or_default();
        in_words(&Filter {
            column: column.into(),
            op,
            values,
        })
    }

    #[test]
    fn filters_read_as_words() {
        assert_eq!(
            words("channel", FilterOp::Equals, json!(["C"])),
            "channel equals C"
        );
        assert_eq!(
            words("channel", FilterOp::List, json!(["A", "B"])),
            "channel is one of A, B"
        );
        assert_eq!(
            words("value", FilterOp::GreaterOrEqual, json!([2.5])),
            "value is at least 2.5"
        );
        assert_eq!(
            words("value", FilterOp::Between, json!([1, 5])),
            "value is between 1 and 5"
        );
        assert_eq!(
            words("site", FilterOp::Contains, json!(["Os"])),
            "site contains Os"
        );
    }
}
