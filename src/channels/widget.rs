//! The website widget's adapter, guards (allowed origins, per-address budgets) and sweeper.
//! Messages need no delivery call: a manager's reply is stored like any other, and the hub's
//! visitor router (`realtime::visitors`) pushes it to the visitor's open WebSockets.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::adapter::{Adapter, Sending};
use super::{Ctx, Outgoing};
use crate::accounts::ratelimit::FailureLimiter;
use crate::config::{ChannelConfig, ChannelKindConfig, normal_origin};
use crate::error::{Error, Result};

/// Whether a page on `origin` may use the widget channel. Browsers send Origin on every
/// cross-origin request and WebSocket handshake; a request without one is not from a web page
/// (no site can make a browser drop it), so there is nothing to check.
pub fn origin_allowed(kind: &ChannelKindConfig, origin: Option<&str>) -> bool {
    let ChannelKindConfig::Widget {
        allowed_origins, ..
    } = kind
    else {
        return false;
    };
    let Some(origin) = origin else {
        return true;
    };
    let Some(origin) = normal_origin(origin) else {
        return false;
    };
    allowed_origins
        .iter()
        .any(|a| a == "*" || normal_origin(a).is_some_and(|a| a == origin))
}

/// Per-address budgets for the anonymous endpoints (token buckets: burst, then one request
/// back every `refill`).
pub struct Limits {
    sessions: FailureLimiter,
    messages: FailureLimiter,
    uploads: FailureLimiter,
    signals: FailureLimiter,
}

#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// New visitor sessions.
    Session,
    /// Sent messages and profile changes.
    Message,
    Upload,
    /// Typing and seen signals, history and file reads.
    Signal,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sessions: FailureLimiter::new(20, Duration::from_secs(30)),
            messages: FailureLimiter::new(30, Duration::from_secs(1)),
            uploads: FailureLimiter::new(10, Duration::from_secs(10)),
            signals: FailureLimiter::new(120, Duration::from_millis(250)),
        }
    }
}

impl Limits {
    /// Spend one request of `budget` for `ip`, or say how long it must wait (429).
    pub fn take(&self, budget: Budget, ip: &str) -> Result<()> {
        let l = match budget {
            Budget::Session => &self.sessions,
            Budget::Message => &self.messages,
            Budget::Upload => &self.uploads,
            Budget::Signal => &self.signals,
        };
        l.take(ip).map_err(Error::RateLimited)
    }
}

/// The widget's adapter. A reply needs no delivery call: stored is delivered, since the
/// visitor's open WebSockets get it from the event stream (`Live`) and a closed panel loads
/// it with the history. Visitors write through the widget's own routes, not a webhook.
pub struct WidgetAdapter;

impl Adapter for WidgetAdapter {
    fn start(
        &self,
        ctx: &Ctx,
        ch: &ChannelConfig,
        _stop: &watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>> {
        ctx.states().set_state(&ch.id, "ready", None);
        None
    }

    fn send<'a>(&'a self, _ctx: &'a Ctx, _out: &'a Outgoing<'a>) -> Sending<'a> {
        Box::pin(async { Ok(None) })
    }
}

/// What the widget's HTTP side shares: the live router and the per-address budgets.
#[derive(Default)]
pub struct Widget {
    pub live: Arc<crate::realtime::visitors::Live>,
    pub limits: Limits,
}

/// Sweep, until the server stops, widget visitors who never wrote and uploads never attached,
/// each once older than its `retention` age. Runs a few times per age (at most hourly), so
/// nothing outlives its age by more than about a quarter of it.
pub async fn sweep(
    inbox: crate::inbox::Inbox,
    blobs: crate::inbox::blobs::Blobs,
    retention: crate::config::RetentionConfig,
    mut stop: watch::Receiver<bool>,
) {
    let visitor_age = Duration::from_secs(retention.idle_visitor_secs);
    let upload_age = Duration::from_secs(retention.unattached_upload_secs);
    let every = (visitor_age.min(upload_age) / 4)
        .clamp(Duration::from_millis(200), Duration::from_secs(3600));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = crate::domain::now_ms();
        match inbox
            .sweep_visitors(now.saturating_sub(ms(visitor_age)))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!("swept {n} widget visitors who never wrote"),
            Err(e) => tracing::warn!("widget visitor sweep failed: {e}"),
        }
        match blobs.sweep(now.saturating_sub(ms(upload_age))).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("deleted {n} uploaded files never attached"),
            Err(e) => tracing::warn!("unattached upload sweep failed: {e}"),
        }
    }
}
