//! Reading request bodies into memory, bounded three ways, because most of these bodies come
//! from callers that have not proved who they are yet (webhooks, sign-in, the widget):
//! - size: a declared length over the route's cap is refused before reading, and a body
//!   without a length is cut off at the cap;
//! - time: an absolute deadline fixed when reading starts (a minimum rate with a hard cap),
//!   so a slow sender cannot hold a connection and its buffer for an hour;
//! - memory: one budget for every body being buffered at once, shared by the whole server.
//!   A body that does not fit gets 503 + Retry-After before any of it is read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;

use poem::http::header;
use poem::{Body, Request};

use super::error::Refused;
use crate::config::LimitsConfig;

/// Every body gets at least this long, so small bodies on slow links still arrive.
const GRACE: Duration = Duration::from_secs(10);
/// The slowest rate a body may arrive at beyond the grace period (64 KiB/s, 0.5 Mbit/s).
const MIN_RATE: u64 = 64 * 1024;

/// The largest webhook body: base64 attachments make webhook bodies larger than API bodies.
pub fn max_webhook(limits: &LimitsConfig) -> usize {
    limits
        .max_body_bytes
        .max(limits.max_upload_bytes.saturating_mul(4) / 3 + 4096)
}

/// Bytes of request bodies being buffered at once, across the server.
pub struct BodyBudget {
    limit: u64,
    used: AtomicU64,
    /// The hard cap on reading one body.
    timeout: Duration,
}

impl BodyBudget {
    pub fn new(limits: &LimitsConfig) -> Arc<BodyBudget> {
        let largest = max_webhook(limits) as u64;
        if (limits.body_buffer_bytes as u64) < largest {
            tracing::warn!(
                "limits.body_buffer_bytes = {} is below the largest body a webhook may send \
                 ({largest} bytes): such bodies will always be refused with 503",
                limits.body_buffer_bytes
            );
        }
        Arc::new(BodyBudget {
            limit: limits.body_buffer_bytes as u64,
            used: AtomicU64::new(0),
            timeout: Duration::from_secs(limits.body_timeout_secs.max(1)),
        })
    }

    /// Bytes reserved now (for tests and /healthz).
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn reserve(self: &Arc<Self>, n: u64) -> Option<Reservation> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|t| *t <= self.limit)
            })
            .ok()?;
        Some(Reservation {
            budget: self.clone(),
            bytes: n,
        })
    }

    /// How long a body of `len` bytes may take, from the start of reading.
    fn deadline(&self, len: u64) -> Duration {
        (GRACE + Duration::from_secs(len / MIN_RATE)).min(self.timeout)
    }
}

/// Bytes taken from the budget; given back when the request is done with them.
struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: u64,
}

impl Reservation {
    fn grow(&mut self, n: u64) -> bool {
        match self.budget.reserve(n) {
            Some(mut more) => {
                self.bytes += more.bytes;
                more.bytes = 0;
                true
            }
            None => false,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// The body, once it has arrived in full. Holds its share of the budget until dropped, so
/// a handler working on a large body keeps it counted.
pub struct Buffered {
    pub bytes: Vec<u8>,
    _reserved: Reservation,
}

/// A body's share of the budget, held while a handler works on the bytes.
pub struct Held(#[allow(dead_code)] Reservation);

impl Buffered {
    pub fn take(self) -> (Vec<u8>, Held) {
        (self.bytes, Held(self._reserved))
    }
}

impl std::ops::Deref for Buffered {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Read `body` (of the request `req`) into memory, bounded as the module says.
pub async fn read(
    budget: &Arc<BodyBudget>,
    req: &Request,
    body: Body,
    max: usize,
) -> Result<Buffered, Refused> {
    let declared = req
        .header(header::CONTENT_LENGTH)
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Refused::TooLarge(max));
    }
    // A declared length is reserved whole before reading; a body without one grows its
    // reservation as it arrives.
    let mut reserved = budget.reserve(declared.unwrap_or(0)).ok_or(Refused::Busy)?;
    let limit = budget.deadline(declared.unwrap_or(max as u64));
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(64 * 1024) as usize);
    let mut stream = std::pin::pin!(body.into_bytes_stream());
    let reading = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Refused::Broken(e.to_string()))?;
            if bytes.len() + chunk.len() > max {
                return Err(Refused::TooLarge(max));
            }
            let need = (bytes.len() + chunk.len()) as u64;
            if need > reserved.bytes && !reserved.grow(need - reserved.bytes) {
                return Err(Refused::Busy);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(())
    };
    let outcome = tokio::time::timeout(limit, reading).await;
    match outcome {
        Ok(Ok(())) => Ok(Buffered {
            bytes,
            _reserved: reserved,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Refused::TooSlow(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(limit: usize, timeout: u64) -> Arc<BodyBudget> {
        BodyBudget::new(&LimitsConfig {
            body_buffer_bytes: limit,
            body_timeout_secs: timeout,
            ..LimitsConfig::default()
        })
    }

    #[test]
    fn reservations_add_up_and_come_back() {
        let b = budget(100, 60);
        let r1 = b.reserve(60).expect("60 of 100");
        assert!(b.reserve(50).is_none(), "60 + 50 is over 100");
        let mut r2 = b.reserve(40).expect("60 + 40 fits");
        assert!(!r2.grow(1), "the budget is full");
        drop(r1);
        assert!(r2.grow(10));
        assert_eq!(b.in_use(), 50);
        drop(r2);
        assert_eq!(b.in_use(), 0);
    }

    #[test]
    fn the_deadline_has_a_floor_a_rate_and_a_cap() {
        let b = budget(1 << 30, 120);
        assert_eq!(b.deadline(1000), GRACE);
        assert_eq!(b.deadline(10 * MIN_RATE), GRACE + Duration::from_secs(10));
        // 33 MB would be 527 s at the minimum rate: the cap wins.
        assert_eq!(b.deadline(33 << 20), Duration::from_secs(120));
    }
}
