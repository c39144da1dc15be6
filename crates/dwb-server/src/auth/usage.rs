//! What API calls leave behind, written in batches off the request path:
//! one ledger event per call, and each account's "last used" time.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use dwb_core::Timestamp;
use dwb_store::{NewEvent, Store, StoreError};
use uuid::Uuid;

/// Most events kept waiting for a flush; beyond it events are counted as dropped.
const MAX_PENDING: usize = 200_000;
/// Most distinct shared strings kept; the set starts again when full.
const MAX_SHARED: usize = 4096;

/// An event waiting to be written, in about a quarter of a `NewEvent`'s
/// memory (~350 bytes instead of ~1.4 KB): the strings that repeat from call
/// to call (kinds, actions, outcomes, account names, routes) are shared, and
/// the details are kept as JSON text. A burst of calls, or a store outage,
/// fills the buffer, so its size is what the server's memory follows.
#[derive(Debug, Clone, PartialEq)]
struct Pending {
    tenant_id: Uuid,
    workspace_id: Option<Uuid>,
    at: Timestamp,
    principal_id: Option<Uuid>,
    principal_kind: Arc<str>,
    principal_name: Arc<str>,
    action: Arc<str>,
    resource_kind: Arc<str>,
    resource_id: Option<Arc<str>>,
    resource_name: Box<str>,
    outcome: Arc<str>,
    detail: Box<str>,
}

impl Pending {
    fn event(&self) -> NewEvent {
        NewEvent {
            tenant_id: self.tenant_id,
            workspace_id: self.workspace_id,
            at: self.at,
            principal_kind: self.principal_kind.to_string(),
            principal_id: self.principal_id,
            principal_name: self.principal_name.to_string(),
            action: self.action.to_string(),
            resource_kind: self.resource_kind.to_string(),
            resource_id: self.resource_id.as_deref().map(str::to_string),
            resource_name: self.resource_name.to_string(),
            outcome: self.outcome.to_string(),
            detail: serde_json::from_str(&self.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Default)]
struct Buffer {
    events: Vec<Pending>,
    used: HashMap<Uuid, Timestamp>,
    shared: HashSet<Arc<str>>,
}

impl Buffer {
    fn share(&mut self, s: &str) -> Arc<str> {
        if let Some(hit) = self.shared.get(s) {
            return hit.clone();
        }
        if self.shared.len() >= MAX_SHARED {
            self.shared.clear();
        }
        let new: Arc<str> = Arc::from(s);
        self.shared.insert(new.clone());
        new
    }

    fn pending(&mut self, e: NewEvent) -> Pending {
        Pending {
            tenant_id: e.tenant_id,
            workspace_id: e.workspace_id,
            at: e.at,
            principal_id: e.principal_id,
            principal_kind: self.share(&e.principal_kind),
            principal_name: self.share(&e.principal_name),
            action: self.share(&e.action),
            resource_kind: self.share(&e.resource_kind),
            resource_id: e.resource_id.as_deref().map(|r| self.share(r)),
            resource_name: e.resource_name.into_boxed_str(),
            outcome: self.share(&e.outcome),
            detail: e.detail.to_string().into_boxed_str(),
        }
    }
}

#[derive(Default)]
pub struct Usage {
    pending: Mutex<Buffer>,
    /// Dropped since the last report in the log.
    dropped: std::sync::atomic::AtomicU64,
    /// Dropped since the start (for `/metrics`).
    dropped_total: std::sync::atomic::AtomicU64,
}

impl Usage {
    pub fn record(&self, account: Option<Uuid>, event: NewEvent) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = account {
            let at = event.at;
            p.used
                .entry(id)
                .and_modify(|t| *t = (*t).max(at))
                .or_insert(at);
        }
        if p.events.len() < MAX_PENDING {
            let e = p.pending(event);
            p.events.push(e);
        } else {
            self.count_dropped(1);
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
            (std::mem::take(&mut p.events), std::mem::take(&mut p.used))
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
            let written_now: Vec<NewEvent> = chunk.iter().map(Pending::event).collect();
            match store.append_events(&written_now).await {
                Ok(()) => {}
                Err(e @ StoreError::Unavailable(_)) => {
                    let left = events.len() - written;
                    tracing::warn!(error = %e, left, "could not write API ledger events; will retry");
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, n = chunk.len(), "API ledger events refused by the store; dropped");
                    self.count_dropped(chunk.len() as u64);
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
    fn put_back(&self, mut events: Vec<Pending>, used: HashMap<Uuid, Timestamp>) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (id, at) in used {
            p.used
                .entry(id)
                .and_modify(|t| *t = (*t).max(at))
                .or_insert(at);
        }
        if events.is_empty() {
            return;
        }
        events.append(&mut p.events);
        if events.len() > MAX_PENDING {
            let over = events.len() - MAX_PENDING;
            events.truncate(MAX_PENDING);
            self.count_dropped(over as u64);
        }
        p.events = events;
    }

    fn count_dropped(&self, n: u64) {
        self.dropped
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        self.dropped_total
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
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
            .events
            .len()
    }

    /// Events dropped since the start (buffer full, or refused by the store).
    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(n: i64) -> NewEvent {
        NewEvent {
            tenant_id: Uuid::from_u128(1),
            workspace_id: Some(Uuid::from_u128(2)),
            at: Timestamp(n),
            principal_kind: "service_account".into(),
            principal_id: Some(Uuid::from_u128(3)),
            principal_name: "robot".into(),
            action: "ApiCall".into(),
            resource_kind: "api".into(),
            resource_id: Some("/api/v2/workspaces/{id}".into()),
            resource_name: format!("GET /api/v2/workspaces/{n}"),
            outcome: "success".into(),
            detail: json!({"method": "GET", "status": 200, "n": n}),
        }
    }

    #[test]
    fn a_pending_event_is_written_exactly_as_recorded() {
        let mut b = Buffer::default();
        for n in 0..3 {
            let p = b.pending(call(n));
            assert_eq!(p.event(), call(n));
        }
        let mut e = call(9);
        e.workspace_id = None;
        e.principal_id = None;
        e.resource_id = None;
        assert_eq!(b.pending(e.clone()).event(), e);
    }

    #[test]
    fn repeated_strings_are_shared_and_the_set_stays_bounded() {
        let mut b = Buffer::default();
        let one = b.pending(call(1));
        let two = b.pending(call(2));
        assert!(Arc::ptr_eq(&one.principal_name, &two.principal_name));
        assert!(Arc::ptr_eq(&one.action, &two.action));
        for n in 0..(MAX_SHARED * 2) {
            b.share(&n.to_string());
        }
        assert!(b.shared.len() <= MAX_SHARED);
    }
}
