//! Slows down guessing: after repeated failures for one key (an email or a
//! client address) further attempts are refused for a while, longer each time.

use std::collections::HashMap;
use std::sync::Mutex;

use dwb_core::Timestamp;

/// How many failures a kind of key may have within the window before it is locked.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub failures: u32,
    pub window_secs: i64,
}

pub const PER_ACCOUNT: Limit = Limit {
    failures: 5,
    window_secs: 15 * 60,
};
pub const PER_ADDRESS: Limit = Limit {
    failures: 20,
    window_secs: 15 * 60,
};
const FIRST_LOCK_SECS: i64 = 30;
const MAX_LOCK_SECS: i64 = 15 * 60;
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    first: Timestamp,
    locked_until: Timestamp,
}

#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    /// `Err(seconds to wait)` while the key is locked.
    pub fn check(&self, key: &str, now: Timestamp) -> Result<(), i64> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(e) if e.locked_until > now => Err(((e.locked_until.0 - now.0) + 999) / 1000),
            _ => Ok(()),
        }
    }

    /// Counts a failure; locks the key when it passes the limit.
    pub fn failed(&self, key: &str, limit: Limit, now: Timestamp) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, e| e.locked_until > now || now.0 - e.first.0 < limit.window_secs * 1000);
        }
        let e = map.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            first: now,
            locked_until: Timestamp(0),
        });
        if now.0 - e.first.0 > limit.window_secs * 1000 {
            *e = Entry {
                failures: 0,
                first: now,
                locked_until: Timestamp(0),
            };
        }
        e.failures += 1;
        if e.failures >= limit.failures {
            let excess = (e.failures - limit.failures).min(10);
            let secs = (FIRST_LOCK_SECS << excess).min(MAX_LOCK_SECS);
            e.locked_until = now.plus_secs(secs);
        }
    }

    /// Forgets the failures of a key after a success.
    pub fn succeeded(&self, key: &str) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_grows() {
        let t = Throttle::default();
        let now = Timestamp(1_000_000);
        for _ in 0..4 {
            t.failed("a", PER_ACCOUNT, now);
            assert!(t.check("a", now).is_ok());
        }
        t.failed("a", PER_ACCOUNT, now);
        assert_eq!(t.check("a", now), Err(30));
        assert!(t.check("a", now.plus_secs(31)).is_ok());
        t.failed("a", PER_ACCOUNT, now.plus_secs(31));
        assert_eq!(t.check("a", now.plus_secs(31)), Err(60));
        assert!(t.check("b", now).is_ok());
        t.succeeded("a");
        assert!(t.check("a", now.plus_secs(31)).is_ok());
    }

    #[test]
    fn window_resets() {
        let t = Throttle::default();
        let now = Timestamp(0);
        for _ in 0..4 {
            t.failed("a", PER_ACCOUNT, now);
        }
        t.failed("a", PER_ACCOUNT, now.plus_secs(16 * 60));
        assert!(t.check("a", now.plus_secs(16 * 60)).is_ok());
    }
}
