//! Deep pages without reading the rows before them. When the rows are
//! sorted on a column whose row groups follow one another (time series
//! ingested in order), the row groups that come wholly before a boundary
//! and the rows of them the filter keeps (counted from statistics and value
//! counts, see `tally`, or by reading the few groups at a filter's edges)
//! are skipped: the page asks for the rows from the
//! boundary on, and skips that many fewer. Page 20 then reads the row groups
//! around its rows instead of every row before them.
//!
//! For an ascending sort on column `c`, a boundary is the minimum `T` of a
//! row group such that every row group with a smaller minimum has its
//! maximum below `T`: the rows with `c < T` are exactly those groups' rows,
//! and every one of them sorts before every row with `c >= T`, whatever the
//! columns that break ties. Descending is the mirror image. Only for
//! columns whose statistics are exact and that hold no nulls (a null sorts
//! at one end, and `c >= T` would drop it).

use deltalake::arrow::array::{Array, ArrayRef};
use deltalake::datafusion::common::ScalarValue;
use deltalake::datafusion::logical_expr::{ident, lit, Expr};
use deltalake::datafusion::prelude::SessionContext;
use deltalake::parquet::arrow::arrow_reader::statistics::StatisticsConverter;

use crate::error::LakeError;
use crate::tally::{
    group_counts, prepare, read_and_count, Conjunct, Files, Tallies, MAX_READ_ROWS,
};

/// The rows a page may leave out, and the condition that leaves them out.
#[derive(Debug)]
pub(crate) struct Seek {
    /// `c >= T` (ascending) or `c <= T` (descending).
    pub from: Expr,
    /// Rows the filter keeps before the boundary: the page skips that many fewer.
    pub skipped: u64,
}

/// One row group: its bounds on the sort column and the rows the filter
/// keeps in it (`None`: not known without reading it).
struct Group {
    min: ScalarValue,
    max: ScalarValue,
    kept: Option<u64>,
    rows: u64,
    /// Its file and its place there.
    file: usize,
    index: usize,
}

/// The furthest boundary before the `offset`-th row the filter keeps, in
/// the order of `column` (its name in the files), or `None` when there is
/// none to use.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn seek(
    tallies: &Tallies,
    table: &str,
    ctx: &SessionContext,
    files: &Files,
    conjuncts: &[Conjunct],
    column: &str,
    descending: bool,
    offset: u64,
) -> Result<Option<Seek>, LakeError> {
    if offset == 0 {
        return Ok(None);
    }
    let Some((footers, compiled)) = prepare(tallies, table, ctx, files, conjuncts).await? else {
        return Ok(None);
    };
    let counts = group_counts(tallies, table, files, &footers, &compiled, conjuncts).await?;
    let mut groups = Vec::new();
    for (f, (meta, kept)) in footers.iter().zip(counts).enumerate() {
        let md = meta.metadata();
        let conv = StatisticsConverter::try_new(
            column,
            compiled.schema.as_ref(),
            md.file_metadata().schema_descr(),
        )?;
        let rgs = md.row_groups().iter();
        let mins = conv.row_group_mins(rgs.clone())?;
        let maxes = conv.row_group_maxes(rgs.clone())?;
        let nulls = conv.row_group_null_counts(rgs)?;
        for (g, kept) in kept.into_iter().enumerate() {
            if !nulls.is_valid(g) || nulls.value(g) != 0 {
                return Ok(None);
            }
            let (Some(min), Some(max)) = (scalar(&mins, g)?, scalar(&maxes, g)?) else {
                return Ok(None);
            };
            let rows = u64::try_from(md.row_group(g).num_rows()).unwrap_or(u64::MAX);
            groups.push(Group {
                min,
                max,
                kept,
                rows,
                file: f,
                index: g,
            });
        }
    }
    if !order(&mut groups, descending) {
        return Ok(None);
    }
    // A group the statistics do not settle (at a filter's edge) is read
    // and counted, up to a bound.
    let mut budget = MAX_READ_ROWS;
    let best = loop {
        let w = walk(&groups, descending, offset);
        match w.unknown {
            Some(i) if groups[i].rows <= budget => {
                let g = &mut groups[i];
                budget -= g.rows;
                let meta = &footers[g.file];
                let n = read_and_count(files, g.file, meta, &compiled, vec![g.index]).await?;
                g.kept = Some(n);
            }
            _ => break w.best,
        }
    };
    Ok(best.map(|(t, skipped)| {
        let c = ident(column);
        Seek {
            from: if descending {
                c.lt_eq(lit(t))
            } else {
                c.gt_eq(lit(t))
            },
            skipped,
        }
    }))
}

fn scalar(a: &ArrayRef, g: usize) -> Result<Option<ScalarValue>, LakeError> {
    if g >= a.len() || a.is_null(g) {
        return Ok(None);
    }
    Ok(Some(ScalarValue::try_from_array(a, g)?))
}

/// Sorts the groups by their first value in the page's order (minimum, or
/// maximum when descending); false when two cannot be compared.
fn order(groups: &mut [Group], descending: bool) -> bool {
    let mut failed = false;
    groups.sort_by(|a, b| {
        let o = bound(a, descending).partial_cmp(bound(b, descending));
        failed |= o.is_none();
        let o = o.unwrap_or(std::cmp::Ordering::Equal);
        if descending {
            o.reverse()
        } else {
            o
        }
    });
    !failed
}

fn bound(g: &Group, max: bool) -> &ScalarValue {
    if max {
        &g.max
    } else {
        &g.min
    }
}

/// Where a walk over the ordered groups ended.
#[derive(Debug, PartialEq)]
struct Walk {
    /// The furthest boundary with at most `offset` kept rows before it, and their number.
    best: Option<(ScalarValue, u64)>,
    /// The group whose count is needed to go further.
    unknown: Option<usize>,
}

/// Walks the ordered groups; see the module's description.
fn walk(groups: &[Group], descending: bool, offset: u64) -> Walk {
    use std::cmp::Ordering::{Greater, Less};
    // `ahead(a, b)`: `a` sorts strictly before `b` in the page's order.
    let ahead = |a: &ScalarValue, b: &ScalarValue| {
        a.partial_cmp(b) == Some(if descending { Greater } else { Less })
    };
    let mut best = None;
    let mut before = 0u64;
    // The furthest last value of the groups before `i`.
    let mut reach: Option<&ScalarValue> = None;
    for (i, g) in groups.iter().enumerate() {
        let t = bound(g, descending);
        let clear = reach.is_none_or(|r| ahead(r, t));
        if i > 0 && clear {
            best = Some((t.clone(), before));
        }
        let Some(kept) = g.kept else {
            return Walk {
                best,
                unknown: Some(i),
            };
        };
        before = before.saturating_add(kept);
        if before > offset {
            break;
        }
        reach = Some(match reach {
            Some(r) if !ahead(r, bound(g, !descending)) => r,
            _ => bound(g, !descending),
        });
    }
    Walk {
        best,
        unknown: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(min: i64, max: i64, kept: Option<u64>) -> Group {
        Group {
            min: ScalarValue::Int64(Some(min)),
            max: ScalarValue::Int64(Some(max)),
            kept,
            rows: 100,
            file: 0,
            index: 0,
        }
    }

    /// The boundary and rows before it, and the group (by its minimum) whose count is wanted.
    fn at(
        mut groups: Vec<Group>,
        descending: bool,
        offset: u64,
    ) -> (Option<(i64, u64)>, Option<i64>) {
        assert!(order(&mut groups, descending));
        let w = walk(&groups, descending, offset);
        let int = |t: &ScalarValue| match t {
            ScalarValue::Int64(Some(t)) => *t,
            other => panic!("{other:?}"),
        };
        (
            w.best.map(|(t, n)| (int(&t), n)),
            w.unknown.map(|i| int(&groups[i].min)),
        )
    }

    #[test]
    fn the_furthest_clear_boundary_before_the_offset_is_taken() {
        let groups = || {
            vec![
                g(20, 29, Some(5)),
                g(0, 9, Some(10)),
                g(10, 19, Some(0)),
                g(30, 39, Some(7)),
            ]
        };
        // Groups in order: [0,9] 10, [10,19] 0, [20,29] 5, [30,39] 7.
        assert_eq!(
            at(groups(), false, 9),
            (None, None),
            "the first group holds row 9"
        );
        assert_eq!(
            at(groups(), false, 10),
            (Some((20, 10)), None),
            "past an empty group"
        );
        assert_eq!(at(groups(), false, 14), (Some((20, 10)), None));
        assert_eq!(at(groups(), false, 15), (Some((30, 15)), None));
        assert_eq!(at(groups(), false, 1000), (Some((30, 15)), None));
        // Descending: [30,39] 7, [20,29] 5, [10,19] 0, [0,9] 10.
        assert_eq!(at(groups(), true, 6), (None, None));
        assert_eq!(at(groups(), true, 7), (Some((29, 7)), None));
        assert_eq!(at(groups(), true, 12), (Some((9, 12)), None));
    }

    #[test]
    fn overlapping_groups_and_unknown_counts_are_never_skipped_past() {
        // [0,15] overlaps [10,19]: 10 is no boundary; 20 is.
        let overlap = || vec![g(0, 15, Some(4)), g(10, 19, Some(4)), g(20, 29, Some(4))];
        assert_eq!(at(overlap(), false, 5), (None, None));
        assert_eq!(at(overlap(), false, 8), (Some((20, 8)), None));
        // A value shared by two groups' edges: rows equal to 9 sort either side.
        let touching = vec![g(0, 9, Some(4)), g(9, 19, Some(4))];
        assert_eq!(at(touching, false, 100), (None, None));
        // A group whose count is not known stops the walk and is asked for.
        let unknown = vec![g(0, 9, Some(4)), g(10, 19, None), g(20, 29, Some(4))];
        assert_eq!(at(unknown, false, 100), (Some((10, 4)), Some(10)));
    }
}
