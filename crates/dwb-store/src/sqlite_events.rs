//! Ledger events written to a SQLite file on a connection of their own,
//! through prepared statements of many rows each: API calls and token grants make tens of
//! thousands of events a second, and sqlx's generic (`Any`) driver spent
//! more on carrying each event's 13 values to its worker thread (four
//! copies of every string) than SQLite spent inserting the row.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Statement, TransactionBehavior};
use uuid::Uuid;

use crate::accounts::{insert_events_texts, EVENTS_PER_INSERT, EVENT_PARAMS};
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

    /// Writes `events` in one transaction, in their order.
    pub(crate) async fn append(&self, events: Arc<[BufferedEvent]>) -> StoreResult<()> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut slot = conn.lock().unwrap_or_else(|p| p.into_inner());
            let result = match slot.as_mut() {
                Some(c) => write(c, &events),
                None => open(&path).and_then(|mut c| {
                    let r = write(&mut c, &events);
                    *slot = Some(c);
                    r
                }),
            };
            if result.is_err() {
                *slot = None;
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the ledger writer stopped: {e}")))?
    }

    /// Closes the connection (a new one is opened if events come later).
    pub(crate) fn close(&self) {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

fn open(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let c = Connection::open_with_flags(path, flags)?;
    c.busy_timeout(BUSY_TIMEOUT)?;
    Ok(c)
}

fn write(c: &mut Connection, events: &[BufferedEvent]) -> StoreResult<()> {
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
        while rest.len() >= *size {
            let (chunk, after) = rest.split_at(*size);
            rest = after;
            let mut at = 0;
            for e in chunk {
                bind(&mut insert, at, e)?;
                at += EVENT_PARAMS;
            }
            insert.raw_execute()?;
        }
    }
    tx.commit()?;
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
