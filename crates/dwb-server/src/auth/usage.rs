//! What API calls leave behind, written in batches off the request path:
//! one ledger event per call, and each account's "last used" time.

use std::collections::HashMap;
use std::sync::Mutex;

use dwb_core::Timestamp;
use dwb_store::{NewEvent, Store, StoreError};
use uuid::Uuid;

/// Most events kept waiting for a flush; beyond it events are counted as dropped.
const MAX_PENDING: usize = 200_000;

#[derive(Default)]
pub struct Usage {
    pending: Mutex<(Vec<NewEvent>, HashMap<Uuid, Timestamp>)>,
    dropped: std::sync::atomic::AtomicU64,
}

impl Usage {
    pub fn record(&self, account: Option<Uuid>, event: NewEvent) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = account {
            let at = event.at;
            p.1.entry(id)
                .and_modify(|t| *t = (*t).max(at))
                .or_insert(at);
        }
        if p.0.len() < MAX_PENDING {
            p.0.push(event);
        } else {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Writes what is pending. While the store is unavailable nothing is
    /// lost: the events (in their order, ahead of newer ones) and the
    /// last-use times go back for the next flush, up to `MAX_PENDING`
    /// events, and the first such failure ends the flush, so an outage costs
    /// one store deadline per flush rather than one per chunk. A write the
    /// store refuses for good (a bug) is logged and dropped, so it cannot
    /// block the events behind it.
    pub async fn flush(&self, store: &dyn Store) {
        let (events, used) = {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            (std::mem::take(&mut p.0), std::mem::take(&mut p.1))
        };
        if !used.is_empty() {
            let uses: Vec<_> = used.iter().map(|(id, at)| (*id, *at)).collect();
            match store.record_last_used(&uses).await {
                Ok(()) => {}
                Err(e @ StoreError::Unavailable(_)) => {
                    tracing::warn!(error = %e, "could not record last use of service accounts; will retry");
                    self.put_back(events, used);
                    self.report_dropped();
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not record last use of service accounts")
                }
            }
        }
        let mut written = 0;
        for chunk in events.chunks(500) {
            match store.append_events(chunk).await {
                Ok(()) => {}
                Err(e @ StoreError::Unavailable(_)) => {
                    let left = events.len() - written;
                    tracing::warn!(error = %e, left, "could not write API ledger events; will retry");
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, n = chunk.len(), "API ledger events refused by the store; dropped");
                    self.dropped
                        .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            }
            written += chunk.len();
        }
        if written < events.len() {
            self.put_back(events.into_iter().skip(written).collect(), HashMap::new());
        }
        self.report_dropped();
    }

    /// Puts unwritten events back in front of those recorded since, and
    /// merges last-use times, keeping the latest.
    fn put_back(&self, mut events: Vec<NewEvent>, used: HashMap<Uuid, Timestamp>) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (id, at) in used {
            p.1.entry(id)
                .and_modify(|t| *t = (*t).max(at))
                .or_insert(at);
        }
        if events.is_empty() {
            return;
        }
        events.append(&mut p.0);
        if events.len() > MAX_PENDING {
            let over = events.len() - MAX_PENDING;
            events.truncate(MAX_PENDING);
            self.dropped
                .fetch_add(over as u64, std::sync::atomic::Ordering::Relaxed);
        }
        p.0 = events;
    }

    fn report_dropped(&self) {
        let dropped = self.dropped.swap(0, std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            tracing::error!(
                dropped,
                "API ledger events dropped: the store could not keep up, or refused them"
            );
        }
    }

    /// Events waiting to be written (for tests and metrics).
    pub fn pending(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .len()
    }
}
