//! Token buckets per key (account or client address). Sign-ins spend a token before the
//! password is checked and get it back when it was right, so only failures drain a bucket: a
//! manager who types their password right is never slowed by an attacker on another address,
//! while guessing stops quickly, also when the guesses arrive all at once. The widget's
//! anonymous endpoints spend a token on every request.

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

    /// Use the bucket as a plain request budget: spend one token if there is one (under a
    /// single lock, so concurrent callers cannot overdraw it), else say how long to wait.
    /// Sign-ins spend before they check and `refund` on success, so many guesses sent at
    /// once get no more checks than the burst.
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

    /// Give back a token spent by `take` (the attempt turned out not to be a failure).
    pub fn refund(&self, key: &str) {
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get(key) {
            let level = (self.level(b, now) + 1.0).min(self.burst);
            map.insert(
                key.to_string(),
                Bucket {
                    tokens: level,
                    at: now,
                },
            );
        }
    }

    fn drain(&self, map: &mut HashMap<String, Bucket>, key: &str, now: Instant) {
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            self.evict(map, now);
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

    /// Make room without forgetting everyone: drop the buckets that have refilled, and if that
    /// is not enough, the tenth that were touched longest ago. Clearing the whole map would let
    /// an attacker who fills it with fresh keys reset their own drained buckets.
    fn evict(&self, map: &mut HashMap<String, Bucket>, now: Instant) {
        let burst = self.burst;
        let refill = self.refill.as_secs_f64();
        map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() / refill < burst);
        if map.len() < MAX_KEYS {
            return;
        }
        let mut ages: Vec<Instant> = map.values().map(|b| b.at).collect();
        let cut = ages.len() / 10;
        let (_, oldest_kept, _) = ages.select_nth_unstable(cut);
        let oldest_kept = *oldest_kept;
        map.retain(|_, b| b.at >= oldest_kept);
    }
}

/// The key a per-address limit counts under: an IPv4 address as it is, an IPv6 address by its
/// /64 (one household or server gets a whole /64, so any narrower key is free to rotate).
pub fn address_key(ip: std::net::IpAddr) -> String {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_burst_and_recovers() {
        let l = FailureLimiter::new(3, Duration::from_millis(50));
        for _ in 0..3 {
            assert!(l.take("a").is_ok());
        }
        let wait = l.take("a").expect_err("blocked after three failures");
        assert!(wait <= Duration::from_millis(50));
        assert!(l.take("b").is_ok(), "other keys are unaffected");
        std::thread::sleep(Duration::from_millis(60));
        assert!(l.take("a").is_ok());
    }

    #[test]
    fn take_spends_the_budget_and_names_the_wait() {
        let l = FailureLimiter::new(2, Duration::from_secs(10));
        assert!(l.take("ip").is_ok() && l.take("ip").is_ok());
        let wait = l.take("ip").expect_err("third request in a burst of two");
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        assert!(l.take("other").is_ok());
    }

    #[test]
    fn concurrent_takes_never_exceed_the_burst_and_refunds_restore() {
        let l = std::sync::Arc::new(FailureLimiter::new(5, Duration::from_secs(60)));
        let granted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..50)
            .map(|_| {
                let (l, g) = (l.clone(), granted.clone());
                std::thread::spawn(move || {
                    if l.take("acct").is_ok() {
                        g.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(granted.load(std::sync::atomic::Ordering::SeqCst), 5);
        l.refund("acct");
        assert!(
            l.take("acct").is_ok(),
            "a refunded token can be spent again"
        );
        assert!(l.take("acct").is_err());
    }

    #[test]
    fn a_full_map_evicts_old_keys_not_everyone() {
        let l = FailureLimiter::new(1, Duration::from_secs(3600));
        l.take("attacker").unwrap();
        assert!(l.take("attacker").is_err());
        for i in 0..MAX_KEYS + 10 {
            let _ = l.take(&format!("filler-{i}"));
        }
        let map = l.buckets.lock().unwrap();
        assert!(
            map.len() <= MAX_KEYS && map.len() > MAX_KEYS / 2,
            "{}",
            map.len()
        );
        // The newest keys survive an eviction; the oldest (the attacker's first) went, but the
        // map was never wiped as a whole.
        assert!(map.contains_key(&format!("filler-{}", MAX_KEYS + 9)));
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let a: std::net::IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(address_key("10.1.2.3".parse().unwrap()), "10.1.2.3");
    }
}
