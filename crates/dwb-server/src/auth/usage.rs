//! What API calls leave behind, written in batches off the request path:
//! one ledger event per call, and each account's "last used" time. Every
//! call is recorded: when the store writes events more slowly than calls
//! come and the buffer is full, calls wait for room ([`Usage::wait_for_room`])
//! rather than go unrecorded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dwb_core::Timestamp;
use dwb_store::{NewEvent, Store, StoreError};
use uuid::Uuid;

/// Events kept waiting for a flush past which calls wait for room.
const MAX_PENDING: usize = 200_000;
/// Past this many, events are dropped and counted (only reachable by
/// recording without waiting for room, or by a long store outage).
const HARD_LIMIT: usize = 2 * MAX_PENDING;
/// How long a call waits for room in a full buffer before it is answered
/// 503 (with `Retry-After`) instead of served unrecorded.
pub const ROOM_WAIT: Duration = Duration::from_secs(3);
/// Events taken for writing at a time (room is made for calls at each take).
const FLUSH_EVENTS: usize = 10_000;
/// Events written per store transaction (a multiple of the store's 64
/// rows per statement).
const WRITE_EVENTS: usize = 2048;
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
    events: VecDeque<Pending>,
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
    /// The number of events in `pending`, read without its lock.
    queued: AtomicUsize,
    /// Woken when events are taken for writing.
    room: tokio::sync::Notify,
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
        if p.events.len() < HARD_LIMIT {
            let e = p.pending(event);
            p.events.push_back(e);
        } else {
            self.count_dropped(1);
        }
        self.queued.store(p.events.len(), Ordering::Relaxed);
    }

    /// Waits until fewer than `MAX_PENDING` events wait to be written, at
    /// most `limit`; false when there is still no room (the caller answers
    /// 503: a call is not served unrecorded).
    pub async fn wait_for_room(&self, limit: Duration) -> bool {
        // The common case, on every call: room, one atomic load.
        if self.queued.load(Ordering::Relaxed) < MAX_PENDING {
            return true;
        }
        let until = tokio::time::Instant::now() + limit;
        loop {
            // Registered before the check, so a flush in between is not missed.
            let taken = self.room.notified();
            if self.queued.load(Ordering::Relaxed) < MAX_PENDING {
                return true;
            }
            if tokio::time::timeout_at(until, taken).await.is_err() {
                return self.queued.load(Ordering::Relaxed) < MAX_PENDING;
            }
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
        // A few thousand events at a time, so that calls waiting for room
        // get it as soon as some are taken, until none are left.
        while self.flush_some(store).await {}
        self.report_dropped();
    }

    /// Writes up to `FLUSH_EVENTS` events; true when more wait and this
    /// part was written.
    async fn flush_some(&self, store: &dyn Store) -> bool {
        let (events, used, more) = {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let n = p.events.len().min(FLUSH_EVENTS);
            let events: Vec<Pending> = p.events.drain(..n).collect();
            self.queued.store(p.events.len(), Ordering::Relaxed);
            (events, std::mem::take(&mut p.used), !p.events.is_empty())
        };
        self.room.notify_waiters();
        if !used.is_empty() {
            let uses: Vec<_> = used.iter().map(|(id, at)| (*id, *at)).collect();
            match store.record_last_used(&uses).await {
                Ok(()) => {}
                Err(e @ StoreError::Unavailable(_)) => {
                    tracing::warn!(error = %e, "could not record last use of service accounts; will retry");
                    self.put_back(events, used);
                    return false;
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not record last use of service accounts")
                }
            }
        }
        let mut written = 0;
        for chunk in events.chunks(WRITE_EVENTS) {
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
            return false;
        }
        more
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
        let mut all: VecDeque<Pending> = events.drain(..).collect();
        all.append(&mut p.events);
        if all.len() > HARD_LIMIT {
            let over = all.len() - HARD_LIMIT;
            all.truncate(HARD_LIMIT);
            self.count_dropped(over as u64);
        }
        p.events = all;
        self.queued.store(p.events.len(), Ordering::Relaxed);
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
        self.queued.load(Ordering::Relaxed)
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_buffer_holds_calls_until_a_flush_makes_room_and_loses_nothing() {
        let url = dwb_store::testdb::fresh_database(dwb_store::Backend::Sqlite)
            .await
            .unwrap();
        let store = dwb_store::SqlStore::connect(&url).await.unwrap();
        let usage = Arc::new(Usage::default());
        let n = MAX_PENDING + 5;
        for i in 0..n {
            usage.record(None, call(i as i64));
        }
        assert_eq!(usage.pending(), n);
        // Full: no room within a short wait, and nothing was dropped.
        assert!(!usage.wait_for_room(Duration::from_millis(50)).await);
        assert_eq!(usage.dropped_total(), 0);
        // A call waiting for room gets it as soon as a flush takes events.
        let waiter = {
            let usage = usage.clone();
            tokio::spawn(async move { usage.wait_for_room(Duration::from_secs(30)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "a call got room in a full buffer");
        let flush = {
            let usage = usage.clone();
            tokio::spawn(async move { usage.flush(&store).await })
        };
        let started = std::time::Instant::now();
        assert!(waiter.await.unwrap());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "room came only after {:?}",
            started.elapsed()
        );
        flush.await.unwrap();
        assert_eq!(usage.pending(), 0);
        assert_eq!(usage.dropped_total(), 0);
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
