//! Keeps a file scan that claims an order reading its files in that order, working around a DataFusion 55 bug.
//!
//! dwb's files record their key order (see `cluster.rs`), so a page sorted
//! on the key is planned as a merge of scans that are already in order, and
//! the page's `LIMIT` is pushed into the scan. DataFusion 55's limit pushdown
//! then marks the scan as free to read in any order (`preserve_order =
//! false`, apache/datafusion#24272, fix pending in #24273), which does two
//! wrong things: the Parquet reader may keep only row groups that match the
//! filter entirely and skip an earlier one that matches in part (a page
//! filtered on `k >= 1000` began at the second row group, 65536), and idle
//! partitions may steal files queued for another (a page began at the wrong
//! file, depending on timing). The same pruning would make pages without a
//! sort (read in stored order) start at a later row group. This rule runs
//! after DataFusion's own and marks every scan that declares an output order
//! or stops at a limit as order-preserving again; only a scan that reads
//! every row in no promised order (a count) keeps the freedom.

use std::sync::Arc;

use deltalake::datafusion::common::config::ConfigOptions;
use deltalake::datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use deltalake::datafusion::common::Result;
use deltalake::datafusion::datasource::physical_plan::FileScanConfig;
use deltalake::datafusion::datasource::source::DataSourceExec;
use deltalake::datafusion::physical_optimizer::PhysicalOptimizerRule;
use deltalake::datafusion::physical_plan::ExecutionPlan;

/// Sets `preserve_order` on every file scan with an output ordering or a limit.
#[derive(Debug, Default)]
pub(crate) struct KeepScanOrder;

impl PhysicalOptimizerRule for KeepScanOrder {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let unordered =
                file_scan(&node).is_some_and(|scan| !scan.preserve_order && order_matters(scan));
            if !unordered {
                return Ok(Transformed::no(node));
            }
            match node.with_preserve_order(true) {
                Some(kept) => Ok(Transformed::yes(kept)),
                None => Ok(Transformed::no(node)),
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "dwb_keep_scan_order"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The file scan `node` is, if it is one.
fn file_scan(node: &Arc<dyn ExecutionPlan>) -> Option<&FileScanConfig> {
    node.downcast_ref::<DataSourceExec>()?
        .data_source()
        .downcast_ref::<FileScanConfig>()
}

/// Which rows a scan returns, or in what order, depends on the order it reads them.
fn order_matters(scan: &FileScanConfig) -> bool {
    !scan.output_ordering.is_empty() || scan.limit.is_some()
}

#[cfg(test)]
mod tests {
    use deltalake::datafusion::prelude::{col, SessionContext};

    use super::*;
    use crate::{Column, ColumnType, Lake, TableSchema, WriteMode};

    /// The file scans in `plan` whose order matters, and whether each preserves it.
    fn ordered_scans(plan: &Arc<dyn ExecutionPlan>) -> Vec<bool> {
        use deltalake::datafusion::common::tree_node::TreeNodeRecursion;
        let mut scans = Vec::new();
        plan.apply(|node| {
            if let Some(scan) = file_scan(node).filter(|scan| order_matters(scan)) {
                scans.push(scan.preserve_order);
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        scans
    }

    /// Two files of key ranges that follow one another: a page sorted on
    /// the key merges the two ordered scans and pushes its limit into them.
    async fn two_files() -> (tempfile::TempDir, Lake) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let mut k = Column::new("k", ColumnType::Int64);
        k.key = true;
        let s = TableSchema::new(vec![k]).unwrap();
        for (i, range) in [0..10, 10..20].into_iter().enumerate() {
            let csv: String = range.map(|k| format!("{k}\n")).collect();
            let csv = format!("k\n{csv}");
            let mode = if i == 0 {
                WriteMode::Create
            } else {
                WriteMode::Append
            };
            lake.ingest_csv("t", &s, csv.as_bytes(), mode)
                .await
                .unwrap();
        }
        (dir, lake)
    }

    async fn page_plan(lake: &Lake, ctx: &SessionContext, sorted: bool) -> Arc<dyn ExecutionPlan> {
        let t = lake.load_existing("t").await.unwrap();
        let provider = lake.files_provider("t", &t, ctx).await.unwrap();
        let mut df = ctx.read_table(provider).unwrap();
        df = df
            .filter(col("k").gt_eq(deltalake::datafusion::prelude::lit(3i64)))
            .unwrap();
        if sorted {
            df = df.sort(vec![col("k").sort(true, false)]).unwrap();
        }
        df.limit(0, Some(5))
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn limited_and_ordered_scans_read_in_order() {
        let (_dir, lake) = two_files().await;
        let t = lake.load_existing("t").await.unwrap();
        for (sorted, one_partition) in [(true, false), (false, true)] {
            // DataFusion's own rules leave the scan free to read in any order
            // (apache/datafusion#24272). When this fails, DataFusion keeps the
            // order itself and `KeepScanOrder` can go.
            let plain = SessionContext::new_with_config(
                lake.session_for(&t, one_partition).unwrap().copied_config(),
            );
            let scans = ordered_scans(&page_plan(&lake, &plain, sorted).await);
            assert!(scans.contains(&false), "sorted {sorted}: {scans:?}");
            // dwb's sessions add the rule.
            let ctx = lake.session_for(&t, one_partition).unwrap();
            let scans = ordered_scans(&page_plan(&lake, &ctx, sorted).await);
            assert!(
                !scans.is_empty() && !scans.contains(&false),
                "sorted {sorted}: {scans:?}"
            );
        }
    }
}
