//! Ledger events written to a SQLite file on a connection of their own,
//! through prepared statements of many rows each: API calls and token grants make tens of
//! thousands of events a second, and sqlx's generic (`Any`) driver spent
//! more on carrying each event's 13 values to its worker thread (four
//! copies of every string) than SQLite spent inserting the row.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, Statement, TransactionBehavior};
use uuid::Uuid;

use crate::accounts::{
    details_are_json, insert_events_texts, EVENTS_PER_INSERT, EVENT_PARAMS, INSERT_EVENTS,
};
use crate::sql::no_answer_within;
use crate::{Backend, BufferedEvent, StoreError, StoreResult};

/// As long as the pool's connections wait for another writer.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The writer of one SQLite file's ledger events. Its connection is opened
/// on first use, used by one blocking thread at a time, and dropped after
/// an error (the next batch opens a new one).
pub(crate) struct EventWriter {
    path: PathBuf,
    conn: Arc<Mutex<Option<Connection>>>,
}

impl EventWriter {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            conn: Arc::new(Mutex::new(None)),
        }
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `events` in one transaction, in their order, or none of them:
    /// when `limit` passes first (waiting for the connection, or for another
    /// writer's lock) the transaction is rolled back and the store is
    /// unavailable. No timer cuts the write off from outside, so what the
    /// caller hears is what the file holds (a write abandoned by a timeout
    /// could still commit, and its events be written again).
    pub(crate) async fn append(
        &self,
        events: Arc<[BufferedEvent]>,
        limit: Duration,
    ) -> StoreResult<()> {
        let until = Instant::now() + limit;
        let conn = self.conn.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut slot = conn.lock().unwrap_or_else(|p| p.into_inner());
            let late = || no_answer_within(limit);
            let left = until
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(late)?;
            let c = match slot.as_mut() {
                Some(c) => c,
                None => slot.insert(open(&path)?),
            };
            let result = write(c, &events, left.min(BUSY_TIMEOUT), until, late);
            if result.is_err() {
                *slot = None;
            }
            result
        })
        .await
        .map_err(|e| {
            if e.is_panic() {
                StoreError::Failed("the ledger writer panicked".into())
            } else {
                StoreError::Unavailable(format!("the ledger writer stopped: {e}"))
            }
        })?
    }

    /// Closes the connection unless a write holds it (a new one is opened
    /// if events come later; a held one closes with the writer).
    pub(crate) fn close(&self) {
        if let Ok(mut slot) = self.conn.try_lock() {
            slot.take();
        }
    }
}

fn open(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let c = Connection::open_with_flags(path, flags)?;
    c.busy_timeout(BUSY_TIMEOUT)?;
    Ok(c)
}

fn write(
    c: &mut Connection,
    events: &[BufferedEvent],
    wait: Duration,
    until: Instant,
    late: impl Fn() -> StoreError,
) -> StoreResult<()> {
    debug_assert!(
        details_are_json(events),
        "a ledger event's detail must be JSON"
    );
    c.busy_timeout(wait)?;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut rest = events;
    let texts = insert_events_texts(Backend::Sqlite);
    for (size, sql) in EVENTS_PER_INSERT.iter().zip(texts) {
        if rest.len() < *size {
            continue;
        }
        // Many rows per statement: each statement also opens its cursors
        // and updates the table's AUTOINCREMENT counter.
        let mut insert = tx.prepare_cached(sql)?;
        let mut one_caller = if *size == ONE_CALLER_ROWS {
            Some(tx.prepare_cached(one_caller_sql())?)
        } else {
            None
        };
        while rest.len() >= *size {
            let (chunk, after) = rest.split_at(*size);
            rest = after;
            if let Some(st) = one_caller.as_mut().filter(|_| from_one_caller(chunk)) {
                bind_one_caller(st, chunk)?;
                st.raw_execute()?;
                continue;
            }
            let mut at = 0;
            for e in chunk {
                bind(&mut insert, at, e)?;
                at += EVENT_PARAMS;
            }
            insert.raw_execute()?;
        }
    }
    if Instant::now() >= until {
        // Dropped: rolled back.
        return Err(late());
    }
    tx.commit()?;
    Ok(())
}

/// Rows of the statement for the events of one caller.
const ONE_CALLER_ROWS: usize = EVENTS_PER_INSERT[0];
/// The columns (1-based, in `INSERT` order) an event of one caller shares
/// with the other events of its statement: tenant_id, workspace_id,
/// principal_kind, principal_id, principal_name, action, resource_kind,
/// resource_id, outcome. Its own: id, at, resource_name, detail.
const SHARED: [usize; 9] = [2, 3, 5, 6, 7, 8, 9, 10, 12];
/// Parameters of each row of a one-caller statement after the first.
const OWN_PARAMS: usize = EVENT_PARAMS - SHARED.len();

/// The `INSERT` of [`ONE_CALLER_ROWS`] events of one caller (a script
/// calling the API in a loop): the first row's parameters are numbered
/// 1 to 13 and the other rows take the shared columns from them, so each
/// of those rows binds 4 values instead of 13 (SQLite copies every bound
/// text; binding was a quarter of the writer's time per event).
fn one_caller_sql() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut next = EVENT_PARAMS;
        let rows: Vec<String> = (0..ONE_CALLER_ROWS)
            .map(|row| {
                let params: Vec<String> = (1..=EVENT_PARAMS)
                    .map(|k| {
                        if row == 0 || SHARED.contains(&k) {
                            format!("?{k}")
                        } else {
                            next += 1;
                            format!("?{next}")
                        }
                    })
                    .collect();
                format!("({})", params.join(", "))
            })
            .collect();
        format!("{INSERT_EVENTS}{}", rows.join(", "))
    });
    &TEXT
}

/// True when the events differ only in their own columns (see [`SHARED`]).
fn from_one_caller(events: &[BufferedEvent]) -> bool {
    let Some((first, others)) = events.split_first() else {
        return false;
    };
    others.iter().all(|e| {
        e.tenant_id == first.tenant_id
            && e.workspace_id == first.workspace_id
            && e.principal_kind == first.principal_kind
            && e.principal_id == first.principal_id
            && e.principal_name == first.principal_name
            && e.action == first.action
            && e.resource_kind == first.resource_kind
            && e.resource_id == first.resource_id
            && e.outcome == first.outcome
    })
}

/// Binds the events of one caller to [`one_caller_sql`]'s parameters.
fn bind_one_caller(st: &mut Statement<'_>, events: &[BufferedEvent]) -> rusqlite::Result<()> {
    let Some((first, others)) = events.split_first() else {
        return Ok(());
    };
    bind(st, 0, first)?;
    let mut buf = [0u8; 36];
    let mut at = EVENT_PARAMS;
    for e in others {
        st.raw_bind_parameter(at + 1, text(Uuid::new_v4(), &mut buf))?;
        st.raw_bind_parameter(at + 2, e.at.millis())?;
        st.raw_bind_parameter(at + 3, &*e.resource_name)?;
        st.raw_bind_parameter(at + 4, &*e.detail)?;
        at += OWN_PARAMS;
    }
    Ok(())
}

/// Binds `e` to parameters `at + 1 ..= at + EVENT_PARAMS` (SQLite copies
/// each value as it is bound: the UUIDs' texts are written on the stack).
fn bind(st: &mut Statement<'_>, at: usize, e: &BufferedEvent) -> rusqlite::Result<()> {
    let mut buf = [0u8; 36];
    st.raw_bind_parameter(at + 1, text(Uuid::new_v4(), &mut buf))?;
    st.raw_bind_parameter(at + 2, text(e.tenant_id, &mut buf))?;
    st.raw_bind_parameter(at + 3, opt_text(e.workspace_id, &mut buf))?;
    st.raw_bind_parameter(at + 4, e.at.millis())?;
    st.raw_bind_parameter(at + 5, &*e.principal_kind)?;
    st.raw_bind_parameter(at + 6, opt_text(e.principal_id, &mut buf))?;
    st.raw_bind_parameter(at + 7, &*e.principal_name)?;
    st.raw_bind_parameter(at + 8, &*e.action)?;
    st.raw_bind_parameter(at + 9, &*e.resource_kind)?;
    st.raw_bind_parameter(at + 10, e.resource_id.as_deref())?;
    st.raw_bind_parameter(at + 11, &*e.resource_name)?;
    st.raw_bind_parameter(at + 12, &*e.outcome)?;
    st.raw_bind_parameter(at + 13, &*e.detail)
}

/// `u`'s usual text, written into `buf` (no allocation per value).
fn text(u: Uuid, buf: &mut [u8; 36]) -> &str {
    u.hyphenated().encode_lower(buf)
}

fn opt_text(u: Option<Uuid>, buf: &mut [u8; 36]) -> Option<&str> {
    u.map(move |u| text(u, buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(n: i64) -> BufferedEvent {
        crate::testdb::api_call(n).into()
    }

    #[test]
    fn events_of_one_caller_differ_only_in_id_time_name_and_detail() {
        let same: Vec<_> = (0..4).map(call).collect();
        assert!(from_one_caller(&same));
        let changes: [fn(&mut BufferedEvent); 9] = [
            |e| e.tenant_id = Uuid::from_u128(9),
            |e| e.workspace_id = None,
            |e| e.principal_kind = "person".into(),
            |e| e.principal_id = None,
            |e| e.principal_name = "other".into(),
            |e| e.action = "TokenIssued".into(),
            |e| e.resource_kind = "token".into(),
            |e| e.resource_id = None,
            |e| e.outcome = "denied".into(),
        ];
        for change in changes {
            let mut events = same.clone();
            change(&mut events[2]);
            assert!(!from_one_caller(&events));
        }
    }

    #[test]
    fn later_rows_of_a_one_caller_insert_take_the_shared_columns_from_the_first() {
        let sql = one_caller_sql();
        let rows: Vec<&str> = sql[INSERT_EVENTS.len()..].split("), (").collect();
        assert_eq!(rows.len(), ONE_CALLER_ROWS);
        assert!(rows[0].contains("?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13"));
        assert_eq!(
            rows[1],
            "?14, ?2, ?3, ?15, ?5, ?6, ?7, ?8, ?9, ?10, ?16, ?12, ?17"
        );
        let last = EVENT_PARAMS + (ONE_CALLER_ROWS - 1) * OWN_PARAMS;
        assert!(rows[ONE_CALLER_ROWS - 1].ends_with(&format!("?{last})")));
    }
}
