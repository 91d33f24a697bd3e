//! Automatic assignment (T1) when a manager comes online: the clients who wrote while
//! nobody could take them go to them, through `Inbox::take_waiting`.

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::inbox::Inbox;

/// Hand waiting clients to each manager as they come online, until the server stops.
pub async fn run(inbox: Inbox, mut stop: watch::Receiver<bool>) {
    let mut arrivals = inbox.hub.subscribe_arrivals();
    loop {
        let manager = tokio::select! {
            m = arrivals.recv() => match m {
                Ok(m) => m,
                // Missed arrivals: their clients wait for the next one to come online.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            _ = stop.changed() => return,
        };
        match inbox.take_waiting(manager).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "assignment: manager {manager} came online and took {n} waiting clients"
            ),
            Err(e) => tracing::warn!("assignment: manager {manager} came online: {e}"),
        }
    }
}
