//! Column builders that parse CSV text straight into Arrow record batches of bounded size.

use std::sync::Arc;

use deltalake::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::arrow::record_batch::RecordBatch;

use crate::error::LakeError;
use crate::schema::{ColumnType, TableSchema};
use crate::values;

enum Builder {
    Str(StringBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Ts(TimestampMicrosecondBuilder),
}

impl Builder {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::String => Builder::Str(StringBuilder::new()),
            ColumnType::Int32 => Builder::I32(Int32Builder::new()),
            ColumnType::Int64 => Builder::I64(Int64Builder::new()),
            ColumnType::Decimal | ColumnType::Double => Builder::F64(Float64Builder::new()),
            ColumnType::Boolean => Builder::Bool(BooleanBuilder::new()),
            ColumnType::DateTime => {
                Builder::Ts(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
        }
    }

    /// Parses `text` (not blank) as this column's value and appends it;
    /// `false` (nothing appended) when it is not one. Strings are kept
    /// verbatim; other values ignore surrounding blanks.
    fn push_text(&mut self, format: Option<&str>, text: &str) -> bool {
        let t = trimmed(text);
        match self {
            Builder::Str(b) => b.append_value(text),
            Builder::I32(b) => match t.parse() {
                Ok(x) => b.append_value(x),
                Err(_) => return false,
            },
            Builder::I64(b) => match t.parse() {
                Ok(x) => b.append_value(x),
                Err(_) => return false,
            },
            Builder::F64(b) => match t.parse::<f64>() {
                Ok(x) if x.is_finite() => b.append_value(x),
                _ => return false,
            },
            Builder::Bool(b) => match values::parse_bool(t) {
                Some(x) => b.append_value(x),
                None => return false,
            },
            Builder::Ts(b) => match values::parse_micros(t, format) {
                Some(x) => b.append_value(x),
                None => return false,
            },
        }
        true
    }

    fn push_null(&mut self) {
        match self {
            Builder::Str(b) => b.append_null(),
            Builder::I32(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::Ts(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Ts(b) => Arc::new(b.finish()),
        }
    }
}

/// `text` without surrounding blanks; as it is, without a look at every
/// character, when it starts and ends with a visible ASCII character.
fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Rows being gathered into the next record batch.
pub(crate) struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<Builder>,
    rows: usize,
}

impl BatchBuilder {
    pub(crate) fn new(schema: &TableSchema) -> Self {
        BatchBuilder {
            schema: schema.arrow_schema(),
            columns: schema.columns.iter().map(|c| Builder::new(c.ty)).collect(),
            rows: 0,
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Appends the value of column `i` given as text, or a null for `None`;
    /// `false` (nothing appended) when the text is not a value of its type.
    /// After a `false` the row is incomplete: the batch must be dropped.
    pub(crate) fn push(&mut self, i: usize, format: Option<&str>, text: Option<&str>) -> bool {
        match text {
            Some(t) => self.columns[i].push_text(format, t),
            None => {
                self.columns[i].push_null();
                true
            }
        }
    }

    /// Ends a row whose every column was pushed.
    pub(crate) fn end_row(&mut self) {
        self.rows += 1;
    }

    /// The rows gathered so far as a batch; the builder starts over empty.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch, LakeError> {
        let arrays = self.columns.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}
