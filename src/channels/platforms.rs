//! Which adapter serves a channel: the one place that names every platform. The outbox's
//! send, start-up and the webhook routes ask here.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::adapter::Adapter;
use super::{Ctx, Outgoing, SendError};
use crate::config::ChannelKindConfig;

/// The adapter of a channel's platform.
pub fn of(kind: &ChannelKindConfig) -> &'static dyn Adapter {
    match kind {
        ChannelKindConfig::Api { .. } => &super::api::Api,
        ChannelKindConfig::Telegram { .. } => &super::telegram::Telegram,
        ChannelKindConfig::Viber { .. } => &super::viber::Viber,
        ChannelKindConfig::Whatsapp { .. } => &super::whatsapp::Whatsapp,
        ChannelKindConfig::Widget { .. } => &super::widget::WidgetAdapter,
    }
}

/// Deliver one message through its channel's adapter.
pub async fn send(ctx: &Ctx, out: &Outgoing<'_>) -> std::result::Result<Option<String>, SendError> {
    of(&out.channel.kind).send(ctx, out).await
}

/// Start what each channel needs running.
pub fn start(ctx: &Ctx, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    ctx.inbox
        .channels
        .all()
        .filter_map(|ch| of(&ch.kind).start(ctx, ch, stop))
        .collect()
}
