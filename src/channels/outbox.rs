//! The outbox worker. Deliveries are rows committed together with their message, so a crash
//! or restart loses none: the worker picks up whatever is due. One delivery per chat is in
//! flight at a time (messages arrive in order); different chats go out concurrently.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::{Ctx, Outgoing, SendError};
use crate::config::DeliveryConfig;
use crate::domain::inbox::Delivery;
use crate::domain::now_ms;
use crate::error::Result;
use crate::inbox::reply::DeliveryOutcome;

/// Deliveries in flight at once; also the most a kill can cut short (sent, not yet recorded).
pub const MAX_CONCURRENT: usize = 32;
/// How often receipts that no send claimed are looked for (they expire after 10 minutes).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// When to try again and when to give up (`[delivery]` in the config).
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Attempts, the first included, before the message is marked failed.
    pub max_attempts: u32,
    pub max_backoff: Duration,
}

impl Policy {
    pub fn from_config(c: &DeliveryConfig) -> Policy {
        Policy {
            max_attempts: c.max_attempts.max(1),
            max_backoff: Duration::from_secs(c.max_backoff_secs.max(1)),
        }
    }

    /// The wait after failed attempt number `attempt + 1`: 50 ms, 100 ms, 200 ms, … doubling
    /// to the cap, so a blip heals at once and an outage is not hammered.
    pub fn backoff(&self, attempt: u32) -> Duration {
        Duration::from_millis(50u64 << attempt.min(20)).min(self.max_backoff)
    }

    /// Time spent waiting between the first and the last attempt (the attempts themselves,
    /// up to 30 s each, come on top).
    pub fn give_up_after(&self) -> Duration {
        (0..self.max_attempts.saturating_sub(1))
            .map(|a| self.backoff(a))
            .sum()
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::from_config(&DeliveryConfig::default())
    }
}

#[derive(Clone)]
pub struct Outbox {
    ctx: Ctx,
    policy: Policy,
    in_flight: Arc<Mutex<HashSet<u64>>>,
}

impl Outbox {
    pub fn new(ctx: Ctx, policy: Policy) -> Outbox {
        Outbox {
            ctx,
            policy,
            in_flight: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    fn flight(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut swept = std::time::Instant::now();
        loop {
            if swept.elapsed() >= SWEEP_EVERY {
                swept = std::time::Instant::now();
                if let Err(e) = self.ctx.inbox.expire_early_receipts().await {
                    tracing::warn!("outbox: early receipts not expired: {e}");
                }
            }
            let wait = match self.dispatch().await {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!("outbox: {e}");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = self.ctx.inbox.outbox_wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Start every due delivery whose chat is idle; return how long to sleep.
    async fn dispatch(&self) -> Result<Duration> {
        let now = now_ms();
        let due = self.ctx.inbox.due_deliveries(1000).await?;
        let mut next: Option<i64> = None;
        for d in due {
            if self.flight().contains(&d.chat_id) {
                continue;
            }
            let mut due = d.due_ms;
            if let Some(until) = self.paused(d.chat_id) {
                due = due.max(until);
            }
            if due > now {
                next = Some(next.map_or(due, |n| n.min(due)));
                continue;
            }
            if self.flight().len() >= MAX_CONCURRENT {
                break;
            }
            self.flight().insert(d.chat_id);
            let me = self.clone();
            tokio::spawn(async move {
                let chat = d.chat_id;
                if let Err(e) = me.deliver(d).await {
                    tracing::error!("outbox: a delivery could not be checked or recorded: {e}");
                }
                me.flight().remove(&chat);
                me.ctx.inbox.outbox_wake.notify_one();
            });
        }
        Ok(match next {
            Some(t) => Duration::from_millis((t - now).clamp(10, 5_000) as u64),
            None => Duration::from_secs(5),
        })
    }

    /// A platform that answered "too many requests" for the whole bot pauses its channel.
    fn paused(&self, chat_id: u64) -> Option<i64> {
        let channel = self.ctx.inbox.chat_channel(chat_id).ok()??;
        self.ctx.states().paused_until(&channel)
    }

    async fn deliver(&self, d: Delivery) -> Result<()> {
        // `dispatch` picks from a snapshot read before it took the chat's slot. If the slot was
        // held by this very delivery, that one has been recorded (and dequeued) since: sending
        // again would deliver twice. A finished delivery commits before it frees the slot, so a
        // snapshot taken now shows whether this one is still due.
        if !self.ctx.inbox.delivery_queued(&d)? {
            return Ok(());
        }
        let outcome = match self.attempt(&d).await {
            Ok(ext) => DeliveryOutcome::Sent(ext),
            Err(SendError::Permanent(reason)) => DeliveryOutcome::Failed {
                reason,
                unreachable: false,
            },
            Err(SendError::Unreachable(reason)) => DeliveryOutcome::Failed {
                reason,
                unreachable: true,
            },
            Err(SendError::Retry { reason, after }) => {
                if d.attempts + 1 >= self.policy.max_attempts {
                    DeliveryOutcome::Failed {
                        reason: format!("{reason} (gave up after {} attempts)", d.attempts + 1),
                        unreachable: false,
                    }
                } else {
                    let wait = after
                        .unwrap_or_else(|| self.policy.backoff(d.attempts))
                        .min(self.policy.max_backoff);
                    tracing::info!(
                        message = d.message_id,
                        attempt = d.attempts + 1,
                        "delivery failed, retrying in {wait:?}: {reason}"
                    );
                    DeliveryOutcome::Retry {
                        reason,
                        at: now_ms() + wait.as_millis() as i64,
                    }
                }
            }
        };
        self.ctx.inbox.delivery_result(d, outcome).await
    }

    async fn attempt(&self, d: &Delivery) -> std::result::Result<Option<String>, SendError> {
        let loaded = self.ctx.inbox.outgoing(d);
        let row = match loaded {
            Ok(Some(v)) => v,
            Ok(None) => {
                return Err(SendError::Permanent(
                    "the message or chat no longer exists".into(),
                ));
            }
            Err(e) => {
                return Err(SendError::Retry {
                    reason: format!("store: {e}"),
                    after: None,
                });
            }
        };
        let (m, chat, contact) = (&row.message, &row.chat, row.contact.as_ref());
        if contact.is_some_and(|c| c.blacklisted) {
            return Err(SendError::Permanent(
                "the client is blacklisted; nothing was sent".into(),
            ));
        }
        let Some(channel) = self.ctx.inbox.channels.get(&chat.channel_id) else {
            return Err(SendError::Permanent(format!(
                "channel {:?} is no longer configured",
                chat.channel_id
            )));
        };
        if row.wa_template.is_some() && channel.kind.kind_name() != "whatsapp" {
            // Broadcasts queue templates on WhatsApp chats only; any other adapter would
            // send the history's description of the template as if it were the message.
            return Err(SendError::Permanent(format!(
                "a WhatsApp template cannot go out on the {} channel {:?}",
                channel.kind.kind_name(),
                channel.id
            )));
        }
        let out = Outgoing {
            channel,
            chat,
            contact,
            message: m,
            delivery: d,
            wa_template: row.wa_template.as_ref(),
        };
        let r = super::send(&self.ctx, &out).await;
        if let Err(e) = &r {
            let msg = match e {
                SendError::Retry { reason, .. } => reason,
                SendError::Permanent(r) | SendError::Unreachable(r) => r,
            };
            self.ctx
                .states()
                .error(&channel.id, format!("sending message {}: {msg}", m.id));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_gives_up_after_about_57_minutes() {
        let p = Policy::default();
        assert_eq!(p.max_attempts, 24);
        assert_eq!(p.backoff(0), Duration::from_millis(50));
        assert_eq!(p.backoff(12), Duration::from_millis(204_800));
        assert_eq!(p.backoff(13), Duration::from_secs(300));
        assert_eq!(p.backoff(40), Duration::from_secs(300));
        // 50 ms · (2^13 − 1) for the doubling waits, then ten 5-minute waits: what the README
        // and config.example.toml state.
        assert_eq!(
            p.give_up_after(),
            Duration::from_millis(409_550 + 3_000_000)
        );
        let one = Policy::from_config(&DeliveryConfig {
            max_attempts: 1,
            max_backoff_secs: 1,
        });
        assert_eq!(one.give_up_after(), Duration::ZERO);
    }
}
