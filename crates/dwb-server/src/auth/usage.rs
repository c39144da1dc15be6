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
use dwb_store::{BufferedEvent, NewEvent, Store, StoreError};
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

/// One authenticated API call, as the gateway saw it.
pub struct ApiCall<'a> {
    pub tenant_id: Uuid,
    pub workspace_id: Uuid,
    pub at: Timestamp,
    pub account_id: Uuid,
    pub account_name: &'a str,
    pub method: &'a str,
    /// The route's template, e.g. `/api/v2/workspaces/{workspace_id}`.
    pub route: &'a str,
    pub path: &'a str,
    pub status: u16,
}

/// The strings every API-call event holds, made once (no look-up per call).
struct CallStrings {
    principal_kind: Arc<str>,
    action: Arc<str>,
    resource_kind: Arc<str>,
    success: Arc<str>,
    denied: Arc<str>,
    failed: Arc<str>,
}

static CALL: std::sync::LazyLock<CallStrings> = std::sync::LazyLock::new(|| CallStrings {
    principal_kind: "service_account".into(),
    action: "ApiCall".into(),
    resource_kind: "api".into(),
    success: "success".into(),
    denied: "denied".into(),
    failed: "failed".into(),
});

/// The detail of an `ApiCall` event. Its fields stay in alphabetical
/// order: the text must be what `json!` (keys sorted) wrote before.
#[derive(serde::Serialize)]
struct CallDetail<'a> {
    method: &'a str,
    route: &'a str,
    status: u16,
}

#[derive(Default)]
struct Buffer {
    events: VecDeque<BufferedEvent>,
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

    fn pending(&mut self, e: NewEvent) -> BufferedEvent {
        BufferedEvent::shared(e, |s| self.share(s))
    }

    /// The ledger event of an API call: built here from borrowed parts, so
    /// that a call costs its two owned strings and no intermediate event.
    fn call(&mut self, c: &ApiCall<'_>) -> BufferedEvent {
        let outcome = match c.status {
            200..=399 => &CALL.success,
            401 | 403 | 404 => &CALL.denied,
            _ => &CALL.failed,
        };
        let detail = CallDetail {
            method: c.method,
            route: c.route,
            status: c.status,
        };
        BufferedEvent {
            tenant_id: c.tenant_id,
            workspace_id: Some(c.workspace_id),
            at: c.at,
            principal_id: Some(c.account_id),
            principal_kind: CALL.principal_kind.clone(),
            principal_name: self.share(c.account_name),
            action: CALL.action.clone(),
            resource_kind: CALL.resource_kind.clone(),
            resource_id: Some(self.share(c.route)),
            resource_name: [c.method, " ", c.path].concat().into_boxed_str(),
            outcome: outcome.clone(),
            detail: call_detail(&detail),
        }
    }
}

/// The JSON text of `d`, as serde writes it. Written by hand when neither
/// string needs escaping (HTTP methods and route templates never do): the
/// text is made for every call.
fn call_detail(d: &CallDetail<'_>) -> Box<str> {
    let plain = |s: &str| s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if !(plain(d.method) && plain(d.route)) {
        return serde_json::to_string(d)
            .unwrap_or_else(|_| "{}".into())
            .into_boxed_str();
    }
    let mut s = String::with_capacity(40 + d.method.len() + d.route.len());
    s.push_str("{\"method\":\"");
    s.push_str(d.method);
    s.push_str("\",\"route\":\"");
    s.push_str(d.route);
    s.push_str("\",\"status\":");
    let mut digits = [0u8; 5];
    let mut n = d.status;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &digits[at..] {
        s.push(char::from(b));
    }
    s.push('}');
    s.into_boxed_str()
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
    /// Records a ledger event to be written with the next flush; `account`,
    /// when given, has its "last used" time moved to the event's.
    pub fn record(&self, account: Option<Uuid>, event: NewEvent) {
        self.push(account, event.at, |b| b.pending(event));
    }

    /// Records an authenticated API call (the gateway's event, for every
    /// call); a successful call counts as a use of its account.
    pub fn record_call(&self, call: &ApiCall<'_>) {
        let used = (200..400).contains(&call.status).then_some(call.account_id);
        self.push(used, call.at, |b| b.call(call));
    }

    fn push(
        &self,
        account: Option<Uuid>,
        at: Timestamp,
        event: impl FnOnce(&mut Buffer) -> BufferedEvent,
    ) {
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = account {
            p.used
                .entry(id)
                .and_modify(|t| *t = (*t).max(at))
                .or_insert(at);
        }
        if p.events.len() < HARD_LIMIT {
            let e = event(&mut p);
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
        let (chunks, used, more) = {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let mut left = p.events.len().min(FLUSH_EVENTS);
            // Moved once into the chunks the store writes (no copy per event).
            let mut chunks: Vec<Arc<[BufferedEvent]>> = Vec::new();
            while left > 0 {
                let n = left.min(WRITE_EVENTS);
                chunks.push(p.events.drain(..n).collect());
                left -= n;
            }
            self.queued.store(p.events.len(), Ordering::Relaxed);
            (chunks, std::mem::take(&mut p.used), !p.events.is_empty())
        };
        self.room.notify_waiters();
        let unwritten = |from: usize| -> Vec<BufferedEvent> {
            chunks[from..]
                .iter()
                .flat_map(|c| c.iter().cloned())
                .collect()
        };
        if !used.is_empty() {
            let uses: Vec<_> = used.iter().map(|(id, at)| (*id, *at)).collect();
            match store.record_last_used(&uses).await {
                Ok(()) => {}
                Err(e @ StoreError::Unavailable(_)) => {
                    tracing::warn!(error = %e, "could not record last use of service accounts; will retry");
                    self.put_back(unwritten(0), used);
                    return false;
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not record last use of service accounts")
                }
            }
        }
        for (i, chunk) in chunks.iter().enumerate() {
            match store.append_events(chunk.clone()).await {
                Ok(()) => {}
                Err(e @ StoreError::Unavailable(_)) => {
                    let left: usize = chunks[i..].iter().map(|c| c.len()).sum();
                    tracing::warn!(error = %e, left, "could not write API ledger events; will retry");
                    self.put_back(unwritten(i), HashMap::new());
                    return false;
                }
                Err(e) => {
                    // One event the store refuses (a bug) must not take the
                    // rest of its transaction with it: each is tried alone.
                    tracing::error!(error = %e, n = chunk.len(), "API ledger events refused by the store; writing them one by one");
                    let mut refused = 0;
                    for (k, one) in chunk.iter().enumerate() {
                        match store.append_events(Arc::new([one.clone()])).await {
                            Ok(()) => {}
                            Err(e @ StoreError::Unavailable(_)) => {
                                // Not refused: the store went away. This
                                // event and those after it wait for the next flush.
                                tracing::warn!(error = %e, "could not write API ledger events; will retry");
                                let mut back = chunk[k..].to_vec();
                                back.extend(unwritten(i + 1));
                                self.put_back(back, HashMap::new());
                                self.count_dropped(refused);
                                return false;
                            }
                            Err(_) => refused += 1,
                        }
                    }
                    if refused > 0 {
                        tracing::error!(refused, "API ledger events refused by the store; dropped");
                        self.count_dropped(refused);
                    }
                }
            }
        }
        more
    }

    /// Puts unwritten events back in front of those recorded since, and
    /// merges last-use times, keeping the latest.
    fn put_back(&self, mut events: Vec<BufferedEvent>, used: HashMap<Uuid, Timestamp>) {
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
        let mut all: VecDeque<BufferedEvent> = events.drain(..).collect();
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
    use dwb_store::testdb::api_call as call;
    use serde_json::json;

    #[test]
    fn a_pending_event_is_written_exactly_as_recorded() {
        let mut b = Buffer::default();
        for n in 0..3 {
            assert_eq!(b.pending(call(n)), BufferedEvent::from(call(n)));
        }
        let mut e = call(9);
        e.workspace_id = None;
        e.principal_id = None;
        e.resource_id = None;
        assert_eq!(b.pending(e.clone()), BufferedEvent::from(e));
    }

    #[test]
    fn an_api_call_is_the_event_it_always_was() {
        let mut b = Buffer::default();
        for (status, outcome) in [
            (200, "success"),
            (302, "success"),
            (403, "denied"),
            (404, "denied"),
            (409, "failed"),
            (500, "failed"),
        ] {
            let c = ApiCall {
                tenant_id: Uuid::from_u128(1),
                workspace_id: Uuid::from_u128(2),
                at: Timestamp(7),
                account_id: Uuid::from_u128(3),
                account_name: "robot \"r2\"",
                method: "GET",
                route: "/api/v2/workspaces/{workspace_id}",
                path: "/api/v2/workspaces/abc",
                status,
            };
            let want = NewEvent {
                tenant_id: Uuid::from_u128(1),
                workspace_id: Some(Uuid::from_u128(2)),
                at: Timestamp(7),
                principal_kind: "service_account".into(),
                principal_id: Some(Uuid::from_u128(3)),
                principal_name: "robot \"r2\"".into(),
                action: "ApiCall".into(),
                resource_kind: "api".into(),
                resource_id: Some("/api/v2/workspaces/{workspace_id}".into()),
                resource_name: "GET /api/v2/workspaces/abc".into(),
                outcome: outcome.into(),
                detail: json!({"method": "GET", "route": "/api/v2/workspaces/{workspace_id}", "status": status}),
            };
            assert_eq!(b.call(&c), BufferedEvent::from(want), "status {status}");
        }
    }

    #[test]
    fn a_call_detail_is_the_text_serde_writes() {
        for (method, route, status) in [
            ("GET", "/api/v2/workspaces/{workspace_id}", 200),
            ("DELETE", "", 0),
            ("PATCH", "/ünïcode/{x}", 9),
            ("GET", "/a\"quote", 65535),
            ("GET", "/back\\slash", 10),
            ("M\u{1}", "/control\n", 404),
            ("GET", "/del\u{7f} space", 1),
            ("GET", "/unit\u{1f}separator", 2),
        ] {
            let d = CallDetail {
                method,
                route,
                status,
            };
            let want = serde_json::to_string(&d).unwrap();
            assert_eq!(&*call_detail(&d), want);
            let parsed: serde_json::Value = serde_json::from_str(&want).unwrap();
            assert_eq!(
                parsed,
                json!({"method": method, "route": route, "status": status})
            );
        }
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
