//! What API calls leave behind, written in batches off the request path:
//! one ledger event per call, and each account's "last used" time.

use std::collections::HashMap;
use std::sync::Mutex;

use dwb_core::Timestamp;
use dwb_store::{NewEvent, Store};
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

    /// Writes what is pending; on failure puts the events back for the next try.
    pub async fn flush(&self, store: &dyn Store) {
        let (events, used) = {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            (std::mem::take(&mut p.0), std::mem::take(&mut p.1))
        };
        if !used.is_empty() {
            let uses: Vec<_> = used.into_iter().collect();
            if let Err(e) = store.record_last_used(&uses).await {
                tracing::warn!(error = %e, "could not record last use of service accounts");
            }
        }
        for chunk in events.chunks(500) {
            if let Err(e) = store.append_events(chunk).await {
                tracing::warn!(error = %e, n = chunk.len(), "could not write API ledger events; will retry");
                let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                p.0.extend_from_slice(chunk);
            }
        }
        let dropped = self.dropped.swap(0, std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            tracing::error!(
                dropped,
                "API ledger events dropped: the store could not keep up"
            );
        }
    }
}
