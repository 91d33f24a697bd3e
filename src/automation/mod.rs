//! The funnel scheduler (B1): fires runs as they come due, through the inbox's use cases.
//! It holds nothing of its own: what is due lives in the store (`RUNS_DUE`), so a restart
//! or a kill -9 loses no delay, and a million waiting clients cost no memory here — each
//! round reads only the next batch of due runs. A run is advanced in one transaction that
//! also moves it on, so firing the same run twice does nothing twice.

pub mod assignment;
pub mod assistant;
pub mod broadcasts;
pub mod webhook;

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::domain::now_ms;
use crate::inbox::Inbox;

/// Due runs read per round.
const BATCH: usize = 500;
/// Runs advanced at once: their transactions share group commits.
const PARALLEL: usize = 32;
/// The longest sleep, so a clock jump or a missed wake-up costs at most this much.
const MAX_SLEEP: Duration = Duration::from_secs(5);

/// Fire due runs until the server stops.
pub async fn run(inbox: Inbox, hooks: webhook::Webhooks, mut stop: watch::Receiver<bool>) {
    loop {
        let now = now_ms();
        let due = match inbox.due_runs(now, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("funnels: cannot read due runs: {e}");
                Vec::new()
            }
        };
        let full = due.len() == BATCH;
        let tried = due.len();
        let mut advanced = 0;
        let mut set = JoinSet::new();
        for id in due {
            while set.len() >= PARALLEL {
                if let Some(r) = set.join_next().await {
                    advanced += usize::from(r.unwrap_or(false));
                }
            }
            let inbox = inbox.clone();
            let hooks = hooks.clone();
            set.spawn(async move {
                match inbox.advance_run(id).await {
                    Ok(call) => {
                        if let Some(call) = call {
                            hooks.spawn(inbox, call);
                        }
                        true
                    }
                    Err(e) => {
                        tracing::warn!("funnels: run {id} could not advance: {e}");
                        false
                    }
                }
            });
        }
        while let Some(r) = set.join_next().await {
            advanced += usize::from(r.unwrap_or(false));
        }
        if tried > 0 && advanced == 0 {
            // Every due run failed (the store refuses writes): do not spin on them.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        if full {
            continue;
        }
        let wait = match inbox.next_run_due().await {
            Ok(Some(at)) => Duration::from_millis((at - now_ms()).clamp(0, 5_000) as u64),
            _ => MAX_SLEEP,
        };
        if wait.is_zero() {
            // Runs came due while this round ran: the next round takes them at once.
            continue;
        }
        tokio::select! {
            _ = inbox.automation_wake.notified() => {}
            _ = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
            _ = stop.changed() => return,
        }
    }
}
