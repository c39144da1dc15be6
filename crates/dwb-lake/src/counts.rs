//! Remembers the row count of a (table version, filter) so that paging through one filtered view counts its rows once.
//!
//! A committed Delta version never changes, so a count taken at that version
//! stays true; a new version (ingest, append, overwrite) starts the table's
//! counts over. The filter is keyed by the full debug form of its
//! DataFusion expression (columns, operators, typed literals), so two
//! queries share a count only when they filter the very same way.

use std::collections::HashMap;
use std::sync::Mutex;

/// Filters remembered per table; past this many a table's counts start over.
const MAX_FILTERS_PER_TABLE: usize = 256;
/// Tables remembered; past this many every count starts over.
const MAX_TABLES: usize = 256;

/// Counts of filtered rows, per table and version.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    tables: Mutex<HashMap<String, TableCounts>>,
}

#[derive(Debug)]
struct TableCounts {
    version: Option<u64>,
    by_filter: HashMap<String, u64>,
}

impl Counts {
    /// The count remembered for `filter` at `version` of `table`.
    pub(crate) fn get(&self, table: &str, version: Option<u64>, filter: &str) -> Option<u64> {
        let m = self.tables.lock().ok()?;
        let t = m.get(table)?;
        if t.version != version {
            return None;
        }
        t.by_filter.get(filter).copied()
    }

    /// Remembers `rows` for `filter` at `version` of `table`. A count of an
    /// older version than the one held is dropped (a slow query finishing
    /// after a newer one must not bring back stale counts).
    pub(crate) fn put(&self, table: &str, version: Option<u64>, filter: &str, rows: u64) {
        let Ok(mut m) = self.tables.lock() else {
            return;
        };
        if m.len() >= MAX_TABLES && !m.contains_key(table) {
            m.clear();
        }
        let t = m.entry(table.to_string()).or_insert_with(|| TableCounts {
            version,
            by_filter: HashMap::new(),
        });
        if t.version != version {
            if version < t.version {
                return;
            }
            t.version = version;
            t.by_filter.clear();
        }
        if t.by_filter.len() >= MAX_FILTERS_PER_TABLE && !t.by_filter.contains_key(filter) {
            t.by_filter.clear();
        }
        t.by_filter.insert(filter.to_string(), rows);
    }

    /// Forgets every count of `table` (it was deleted).
    pub(crate) fn forget(&self, table: &str) {
        if let Ok(mut m) = self.tables.lock() {
            m.remove(table);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_holds_for_its_table_version_and_filter_only() {
        let c = Counts::default();
        c.put("t", Some(3), "a = 1", 40);
        assert_eq!(c.get("t", Some(3), "a = 1"), Some(40));
        assert_eq!(c.get("t", Some(3), "a = 2"), None);
        assert_eq!(c.get("t", Some(4), "a = 1"), None);
        assert_eq!(c.get("u", Some(3), "a = 1"), None);
    }

    #[test]
    fn a_new_version_starts_the_counts_over_and_an_older_one_is_dropped() {
        let c = Counts::default();
        c.put("t", Some(3), "a = 1", 40);
        c.put("t", Some(4), "a = 2", 7);
        assert_eq!(c.get("t", Some(3), "a = 1"), None);
        assert_eq!(c.get("t", Some(4), "a = 1"), None);
        assert_eq!(c.get("t", Some(4), "a = 2"), Some(7));
        // A query of version 3 that finishes late does not replace version 4's counts.
        c.put("t", Some(3), "a = 1", 40);
        assert_eq!(c.get("t", Some(4), "a = 2"), Some(7));
        assert_eq!(c.get("t", Some(3), "a = 1"), None);
    }

    #[test]
    fn forgetting_a_table_drops_its_counts() {
        let c = Counts::default();
        c.put("t", Some(1), "", 10);
        c.forget("t");
        assert_eq!(c.get("t", Some(1), ""), None);
    }

    #[test]
    fn the_counts_stay_bounded() {
        let c = Counts::default();
        for i in 0..(MAX_FILTERS_PER_TABLE * 3) {
            c.put("t", Some(1), &format!("a = {i}"), i as u64);
        }
        let held = c.tables.lock().unwrap()["t"].by_filter.len();
        assert!(held <= MAX_FILTERS_PER_TABLE, "{held} filters held");
        for i in 0..(MAX_TABLES * 3) {
            c.put(&format!("t{i}"), Some(1), "", 1);
        }
        assert!(c.tables.lock().unwrap().len() <= MAX_TABLES);
    }
}
