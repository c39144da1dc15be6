//! Row queries as the API sends them, checked against the schema and turned into DataFusion expressions.

use std::str::FromStr;

use deltalake::datafusion::logical_expr::{expr::Like, lit, Expr, SortExpr};
use deltalake::datafusion::prelude::ident;
use deltalake::datafusion::scalar::ScalarValue;
use serde_json::Value as Json;

use crate::error::LakeError;
use crate::schema::{Column, ColumnType, TableSchema};
use crate::tally::Conjunct;
use crate::values::{self, Value};

/// Rows per page when the request says 0.
pub const DEFAULT_PAGE_SIZE: i64 = 100;
/// Most rows per page.
pub const MAX_PAGE_SIZE: i64 = 10_000;
/// Most filters in one query (a derived data set's saved filters count too).
pub const MAX_FILTERS: usize = 100;
/// Most values in one filter (`List`, `Equals`, `Contains`).
pub const MAX_FILTER_VALUES: usize = 1000;
/// Longest filter value, in characters.
pub const MAX_VALUE_CHARS: usize = 1000;

/// One page of rows of a table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowQuery {
    /// 1-based; 0 means 1.
    pub page_index: i64,
    /// 0 means [`DEFAULT_PAGE_SIZE`]; at most [`MAX_PAGE_SIZE`].
    pub page_size: i64,
    /// Columns to return (API names); `None` or empty means all.
    pub columns: Option<Vec<String>>,
    /// All must hold.
    pub filters: Vec<Filter>,
    pub sort: Option<Sort>,
}

/// A condition on one column.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub column: String,
    pub op: FilterOp,
    /// Strings, numbers or booleans; parsed as the column's type.
    pub values: Vec<Json>,
}

/// The filter types of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// Equal to any of the values.
    Equals,
    /// Same as `Equals`.
    List,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    /// String columns only: contains any of the values (case-sensitive).
    Contains,
    /// Inclusive, exactly two values.
    Between,
}

const OPS: [(FilterOp, &str); 8] = [
    (FilterOp::Equals, "Equals"),
    (FilterOp::List, "List"),
    (FilterOp::Greater, "Greater"),
    (FilterOp::GreaterOrEqual, "GreaterOrEqual"),
    (FilterOp::Less, "Less"),
    (FilterOp::LessOrEqual, "LessOrEqual"),
    (FilterOp::Contains, "Contains"),
    (FilterOp::Between, "Between"),
];

impl FilterOp {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        OPS.iter().find(|(o, _)| *o == self).map_or("", |(_, n)| n)
    }
}

impl FromStr for FilterOp {
    type Err = LakeError;

    /// Parses an API filter type, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OPS.iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(o, _)| *o)
            .ok_or_else(|| LakeError::bad("filterType", format!("unknown filter type '{s}'")))
    }
}

/// Order of the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub column: String,
    pub descending: bool,
}

/// A page of rows, each a JSON object keyed by API column name.
#[derive(Debug, Clone, PartialEq)]
pub struct RowPage {
    pub rows: Vec<serde_json::Map<String, Json>>,
    pub page_index: i64,
    pub page_size: i64,
    pub total_count: i64,
    pub total_pages: i64,
}

/// A query checked against a schema, ready for the engine.
pub(crate) struct Plan<'s> {
    pub page_index: i64,
    pub page_size: i64,
    /// Returned columns, in order.
    pub columns: Vec<&'s Column>,
    pub filter: Option<Expr>,
    /// The filter's conditions, one per API filter (their conjunction is `filter`).
    pub conjuncts: Vec<Conjunct>,
    pub sort: Vec<SortExpr>,
    /// The first sort column's name in the files and whether it descends,
    /// when deep pages may seek on it (its statistics are exact: integers
    /// and date-times).
    pub seek: Option<(String, bool)>,
}

impl RowQuery {
    /// Checks columns, filters and sorting against `schema` without reading
    /// anything; a `BadInput` names the API field (`columnFilter[i]`,
    /// `queryFilters[i].column`, `queryFilters[i].filterValues`, …).
    pub fn check(&self, schema: &TableSchema) -> Result<(), LakeError> {
        self.plan(schema).map(|_| ())
    }

    /// Checks the query against `schema`; a `BadInput` names the API field.
    pub(crate) fn plan<'s>(&self, schema: &'s TableSchema) -> Result<Plan<'s>, LakeError> {
        let page_index = match self.page_index {
            0 => 1,
            i if i < 0 => return Err(LakeError::bad("pageIndex", "must be 1 or more")),
            i => i,
        };
        let page_size = match self.page_size {
            0 => DEFAULT_PAGE_SIZE,
            s if !(1..=MAX_PAGE_SIZE).contains(&s) => {
                return Err(LakeError::bad(
                    "pageSize",
                    format!("must be 1 to {MAX_PAGE_SIZE}"),
                ))
            }
            s => s,
        };
        let columns = match self.columns.as_deref() {
            None | Some([]) => schema.columns.iter().collect(),
            Some(names) => {
                let mut out: Vec<&Column> = Vec::with_capacity(names.len());
                for (i, n) in names.iter().enumerate() {
                    let field = format!("columnFilter[{i}]");
                    let (_, c) = schema
                        .column(n)
                        .ok_or_else(|| LakeError::bad(&field, format!("unknown column '{n}'")))?;
                    if out.iter().any(|o| o.name == c.name) {
                        return Err(LakeError::bad(
                            field,
                            format!("column '{n}' is listed twice"),
                        ));
                    }
                    out.push(c);
                }
                out
            }
        };
        if self.filters.len() > MAX_FILTERS {
            return Err(LakeError::bad(
                "queryFilters",
                format!("at most {MAX_FILTERS} filters, got {}", self.filters.len()),
            ));
        }
        let mut filter: Option<Expr> = None;
        let mut conjuncts = Vec::with_capacity(self.filters.len());
        for (i, f) in self.filters.iter().enumerate() {
            let (e, column) = filter_expr(schema, f, i)?;
            conjuncts.push(Conjunct {
                expr: e.clone(),
                column,
                interval: match f.op {
                    FilterOp::Equals | FilterOp::List => f.values.len() == 1,
                    FilterOp::Contains => false,
                    _ => true,
                },
            });
            filter = Some(match filter {
                Some(acc) => acc.and(e),
                None => e,
            });
        }
        let mut sort = Vec::new();
        let mut seek = None;
        if let Some(s) = &self.sort {
            let (_, c) = schema.column(&s.column).ok_or_else(|| {
                LakeError::bad("sorting.column", format!("unknown column '{}'", s.column))
            })?;
            if !c.sortable {
                return Err(LakeError::bad(
                    "sorting.column",
                    format!("column '{}' is not sortable", c.name),
                ));
            }
            sort.push(ident(c.physical_name()).sort(!s.descending, s.descending));
            if matches!(
                c.ty,
                ColumnType::Int32 | ColumnType::Int64 | ColumnType::DateTime
            ) {
                seek = Some((c.physical_name(), s.descending));
            }
            // Key columns break ties so that pages do not overlap.
            for k in schema.columns.iter().filter(|k| k.key && k.name != c.name) {
                sort.push(ident(k.physical_name()).sort(true, false));
            }
        }
        Ok(Plan {
            page_index,
            page_size,
            columns,
            filter,
            conjuncts,
            sort,
            seek,
        })
    }
}

/// The filter's expression, and the name of its column in the files.
fn filter_expr(schema: &TableSchema, f: &Filter, i: usize) -> Result<(Expr, String), LakeError> {
    let field = |name: &str| format!("queryFilters[{i}].{name}");
    let (_, c) = schema
        .column(&f.column)
        .ok_or_else(|| LakeError::bad(field("column"), format!("unknown column '{}'", f.column)))?;
    if !c.filterable {
        return Err(LakeError::bad(
            field("column"),
            format!("column '{}' is not filterable", c.name),
        ));
    }
    let ordered = !matches!(c.ty, ColumnType::Boolean);
    let op_ok = match f.op {
        FilterOp::Equals | FilterOp::List => true,
        FilterOp::Contains => c.ty == ColumnType::String,
        _ => ordered,
    };
    if !op_ok {
        return Err(LakeError::bad(
            field("filterType"),
            format!(
                "{} does not apply to {} column '{}'",
                f.op.as_str(),
                c.ty,
                c.name
            ),
        ));
    }
    let want = match f.op {
        FilterOp::Equals | FilterOp::List | FilterOp::Contains => None,
        FilterOp::Between => Some(2),
        _ => Some(1),
    };
    let n = f.values.len();
    if n == 0 || want.is_some_and(|w| w != n) {
        let msg = match want {
            Some(w) => format!("{} takes exactly {w} value(s), got {n}", f.op.as_str()),
            None => format!("{} takes at least one value", f.op.as_str()),
        };
        return Err(LakeError::bad(field("filterValues"), msg));
    }
    if n > MAX_FILTER_VALUES {
        return Err(LakeError::bad(
            field("filterValues"),
            format!("at most {MAX_FILTER_VALUES} values, got {n}"),
        ));
    }
    let mut lits = Vec::with_capacity(n);
    for (j, v) in f.values.iter().enumerate() {
        let text = match v {
            Json::String(s) => s.clone(),
            Json::Number(x) => x.to_string(),
            Json::Bool(b) => b.to_string(),
            _ => String::new(),
        };
        if text.chars().count() > MAX_VALUE_CHARS {
            return Err(LakeError::bad(
                format!("queryFilters[{i}].filterValues[{j}]"),
                format!("a filter value has at most {MAX_VALUE_CHARS} characters"),
            ));
        }
        let parsed = match (v, c.ty) {
            (Json::String(_) | Json::Number(_) | Json::Bool(_), ty) => {
                values::parse(ty, c.format.as_deref(), &text)
            }
            _ => None,
        };
        let parsed = parsed.ok_or_else(|| {
            LakeError::bad(
                format!("queryFilters[{i}].filterValues[{j}]"),
                format!("{v} is not a {} (column '{}')", c.ty, c.name),
            )
        })?;
        lits.push(parsed);
    }
    let col = ident(c.physical_name());
    let e = match f.op {
        FilterOp::Equals | FilterOp::List => {
            let mut l: Vec<Expr> = lits.into_iter().map(scalar).collect();
            if l.len() == 1 {
                col.eq(l.remove(0))
            } else {
                col.in_list(l, false)
            }
        }
        FilterOp::Contains => any_of(lits.into_iter().map(|v| contains(col.clone(), v))),
        FilterOp::Between => {
            let mut it = lits.into_iter().map(scalar);
            match (it.next(), it.next()) {
                (Some(lo), Some(hi)) => col.between(lo, hi),
                _ => {
                    return Err(LakeError::bad(
                        field("filterValues"),
                        "Between takes exactly 2 values",
                    ))
                }
            }
        }
        op => {
            let v = lits
                .into_iter()
                .map(scalar)
                .next()
                .unwrap_or(Expr::Literal(ScalarValue::Null, None));
            match op {
                FilterOp::Greater => col.gt(v),
                FilterOp::GreaterOrEqual => col.gt_eq(v),
                FilterOp::Less => col.lt(v),
                _ => col.lt_eq(v),
            }
        }
    };
    Ok((e, c.physical_name()))
}

/// A literal of the column's stored type.
fn scalar(v: Value) -> Expr {
    let s = match v {
        Value::Str(s) => ScalarValue::Utf8(Some(s)),
        Value::I32(x) => ScalarValue::Int32(Some(x)),
        Value::I64(x) => ScalarValue::Int64(Some(x)),
        Value::F64(x) => ScalarValue::Float64(Some(x)),
        Value::Bool(x) => ScalarValue::Boolean(Some(x)),
        Value::Micros(x) => ScalarValue::TimestampMicrosecond(Some(x), Some("UTC".into())),
    };
    lit(s)
}

/// `col LIKE '%value%'` with the value's `%`, `_` and `\` escaped.
fn contains(col: Expr, v: Value) -> Expr {
    let text = match v {
        Value::Str(s) => s,
        _ => String::new(),
    };
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    Expr::Like(Like::new(
        false,
        Box::new(col),
        Box::new(lit(pattern)),
        Some('\\'),
        false,
    ))
}

fn any_of(exprs: impl Iterator<Item = Expr>) -> Expr {
    exprs.reduce(|a, b| a.or(b)).unwrap_or(lit(false))
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
