//! The broadcast sender (B3): hands each running broadcast's next clients to the inbox, one
//! at a time, no faster than each platform takes messages (`domain::broadcast::per_second`,
//! a token bucket per channel kind). What was sent is recorded per client in the store, so
//! after a restart the sender carries on with the next client.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::domain::broadcast::per_second;
use crate::inbox::Inbox;

/// Clients read per broadcast per round.
const BATCH: usize = 200;
/// Paced sends committing at once (they share group commits).
const IN_FLIGHT: usize = 32;

/// A bucket of send tokens per channel kind, refilled at the platform's rate (one second's
/// worth at most, so a pause does not turn into a burst).
#[derive(Default)]
struct Pace {
    buckets: HashMap<String, (f64, Instant)>,
    /// Messages per second by channel kind, where the config overrides the built-in pace.
    rates: BTreeMap<String, u32>,
}

impl Pace {
    /// How long to wait before the next send on `kind`; takes the token when it is zero.
    fn wait(&mut self, kind: &str) -> Duration {
        let rate = f64::from(
            self.rates
                .get(kind)
                .copied()
                .unwrap_or_else(|| per_second(kind)),
        );
        let now = Instant::now();
        let (tokens, at) = self.buckets.entry(kind.to_string()).or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - *tokens) / rate)
        }
    }
}

/// Send until the server stops; `rates` override the built-in pace per channel kind.
pub async fn run(inbox: Inbox, rates: BTreeMap<String, u32>, mut stop: watch::Receiver<bool>) {
    let mut pace = Pace {
        rates,
        ..Pace::default()
    };
    loop {
        let work = match inbox.broadcast_work(BATCH).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("broadcasts: cannot read what is next: {e}");
                Vec::new()
            }
        };
        let mut did = false;
        // Whether any send went through this round: clients whose sends the store refused
        // (unavailable) come back at once, and must not be tried again in a tight loop.
        let mut progressed = false;
        for w in work {
            let id = w.id;
            if !w.paced {
                // Funnel starts: many at once, so their transactions share group commits.
                let mut set = tokio::task::JoinSet::new();
                for c in w.next {
                    while set.len() >= 64 {
                        progressed |= matches!(set.join_next().await, Some(Ok(true)));
                    }
                    set.spawn(send(inbox.clone(), id, c));
                    did = true;
                }
                while let Some(r) = set.join_next().await {
                    progressed |= matches!(r, Ok(true));
                }
                continue;
            }
            let mut inflight = tokio::task::JoinSet::new();
            for c in w.next {
                // A funnel start sends nothing itself (its send steps go through the outbox
                // one client at a time), so only messages are paced.
                let kind = if w.whatsapp {
                    "whatsapp".to_string()
                } else {
                    inbox
                        .broadcast_channel(c)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                };
                loop {
                    let d = pace.wait(&kind);
                    if d.is_zero() {
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = stop.changed() => return,
                    }
                }
                // The pace decides when a send starts; several may be committing at once.
                while inflight.len() >= IN_FLIGHT {
                    progressed |= matches!(inflight.join_next().await, Some(Ok(true)));
                }
                inflight.spawn(send(inbox.clone(), id, c));
                did = true;
            }
            while let Some(r) = inflight.join_next().await {
                progressed |= matches!(r, Ok(true));
            }
        }
        if did && progressed {
            continue;
        }
        let idle = if did {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(5)
        };
        tokio::select! {
            _ = inbox.broadcast_wake.notified() => {}
            _ = tokio::time::sleep(idle) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Hand one client to the inbox; whether that went through.
async fn send(inbox: Inbox, id: u64, contact: u64) -> bool {
    match inbox.broadcast_send(id, contact).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("broadcast {id}: client {contact}: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_keeps_to_the_platform_rate() {
        let mut p = Pace::default();
        let free = (0..25).filter(|_| p.wait("telegram").is_zero()).count();
        assert_eq!(free, 25, "a second's worth at once");
        let d = p.wait("telegram");
        assert!(
            d > Duration::ZERO && d <= Duration::from_millis(41),
            "{d:?}"
        );
        assert!(p.wait("api").is_zero(), "each platform has its own bucket");
        let mut slow = Pace {
            rates: [("api".to_string(), 2)].into(),
            ..Pace::default()
        };
        assert!(slow.wait("api").is_zero() && slow.wait("api").is_zero());
        assert!(
            slow.wait("api") > Duration::from_millis(400),
            "the config's pace"
        );
    }
}
