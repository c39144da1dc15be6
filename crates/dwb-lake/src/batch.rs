//! Column builders that turn validated CSV values into Arrow record batches of bounded size.

use std::sync::Arc;

use deltalake::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::arrow::record_batch::RecordBatch;

use crate::error::LakeError;
use crate::schema::{ColumnType, TableSchema};
use crate::values::Value;

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

    /// Appends a value (or null). The value was parsed for this column's type.
    fn push(&mut self, v: Option<Value>) {
        match (self, v) {
            (Builder::Str(b), Some(Value::Str(s))) => b.append_value(s),
            (Builder::I32(b), Some(Value::I32(x))) => b.append_value(x),
            (Builder::I64(b), Some(Value::I64(x))) => b.append_value(x),
            (Builder::F64(b), Some(Value::F64(x))) => b.append_value(x),
            (Builder::Bool(b), Some(Value::Bool(x))) => b.append_value(x),
            (Builder::Ts(b), Some(Value::Micros(x))) => b.append_value(x),
            (Builder::Str(b), _) => b.append_null(),
            (Builder::I32(b), _) => b.append_null(),
            (Builder::I64(b), _) => b.append_null(),
            (Builder::F64(b), _) => b.append_null(),
            (Builder::Bool(b), _) => b.append_null(),
            (Builder::Ts(b), _) => b.append_null(),
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

    /// Appends one row, one value per schema column, in schema order.
    pub(crate) fn push_row(&mut self, row: Vec<Option<Value>>) {
        for (b, v) in self.columns.iter_mut().zip(row) {
            b.push(v);
        }
        self.rows += 1;
    }

    /// The rows gathered so far as a batch; the builder starts over empty.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch, LakeError> {
        let arrays = self.columns.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}
