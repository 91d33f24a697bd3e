//! Failed sign-in limiter: a token bucket per key (account or client address) that only
//! failures drain. Successful sign-ins cost nothing, so a manager who types their password
//! right is never slowed by an attacker on another address, while guessing stops quickly.
//! `take` spends the same bucket on every request instead (the widget's anonymous endpoints).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct FailureLimiter {
    burst: f64,
    refill: Duration,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Entries beyond this are pruned (full buckets first) so the map cannot grow without bound.
const MAX_KEYS: usize = 100_000;

impl FailureLimiter {
    pub fn new(burst: u32, refill: Duration) -> FailureLimiter {
        FailureLimiter {
            burst: f64::from(burst.max(1)),
            refill: refill.max(Duration::from_millis(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn level(&self, b: &Bucket, now: Instant) -> f64 {
        let regained = now.duration_since(b.at).as_secs_f64() / self.refill.as_secs_f64();
        (b.tokens + regained).min(self.burst)
    }

    /// How long `key` must wait before it may try again, if it is blocked now.
    pub fn blocked(&self, key: &str) -> Option<Duration> {
        let map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = map.get(key)?;
        let level = self.level(b, Instant::now());
        (level < 1.0).then(|| self.refill.mul_f64(1.0 - level))
    }

    /// Record one failure for `key`.
    pub fn fail(&self, key: &str) {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        self.drain(&mut map, key, Instant::now());
    }

    /// Use the bucket as a plain request budget: spend one token if there is one (under a
    /// single lock, so concurrent callers cannot overdraw it), else say how long to wait.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get(key) {
            let level = self.level(b, now);
            if level < 1.0 {
                return Err(self.refill.mul_f64(1.0 - level));
            }
        }
        self.drain(&mut map, key, now);
        Ok(())
    }

    fn drain(&self, map: &mut HashMap<String, Bucket>, key: &str, now: Instant) {
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            let burst = self.burst;
            let refill = self.refill.as_secs_f64();
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() / refill < burst);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        let level = match map.get(key) {
            Some(b) => self.level(b, now),
            None => self.burst,
        };
        map.insert(
            key.to_string(),
            Bucket {
                tokens: (level - 1.0).max(0.0),
                at: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_burst_and_recovers() {
        let l = FailureLimiter::new(3, Duration::from_millis(50));
        for _ in 0..3 {
            assert!(l.blocked("a").is_none());
            l.fail("a");
        }
        let wait = l.blocked("a").expect("blocked after three failures");
        assert!(wait <= Duration::from_millis(50));
        assert!(l.blocked("b").is_none(), "other keys are unaffected");
        std::thread::sleep(Duration::from_millis(60));
        assert!(l.blocked("a").is_none());
    }

    #[test]
    fn take_spends_the_budget_and_names_the_wait() {
        let l = FailureLimiter::new(2, Duration::from_secs(10));
        assert!(l.take("ip").is_ok() && l.take("ip").is_ok());
        let wait = l.take("ip").expect_err("third request in a burst of two");
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        assert!(l.take("other").is_ok());
    }
}
