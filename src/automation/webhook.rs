//! Funnel webhook steps: POST the client's details to the step's URL, outside any
//! transaction, then hand the answer back to the inbox, which records it in the history and
//! carries the run on. The URL gets the same SSRF rules as attachment URLs (public
//! addresses only, pinned, no redirects) except for ranges the admin allowed.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Semaphore;

use crate::channels::{api::sign, fetch};
use crate::inbox::Inbox;
use crate::inbox::automation::WebhookCall;

/// One try's limit; three tries with their pauses stay well inside the run's lease.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Pauses before the second and the third try (network errors, 429 and 5xx only).
const BACKOFF: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(10)];
/// Calls in flight at once; a slow receiver cannot hold more than this many tasks.
const IN_FLIGHT: usize = 64;

/// What webhook steps need from the config.
#[derive(Clone)]
pub struct Webhooks {
    allow: Arc<Vec<(IpAddr, u8)>>,
    secret: Option<Arc<str>>,
    slots: Arc<Semaphore>,
}

impl Webhooks {
    pub fn new(allow: &[String], secret: Option<&str>) -> Webhooks {
        Webhooks {
            // Checked when the config was loaded; an entry that does not parse cannot get here.
            allow: Arc::new(
                allow
                    .iter()
                    .filter_map(|s| crate::config::parse_cidr(s))
                    .collect(),
            ),
            secret: secret.map(Arc::from),
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
        }
    }

    /// Make `call` in the background and move its run on with the answer; a call the
    /// answer of which starts another webhook step goes on the same way.
    pub fn spawn(&self, inbox: Inbox, call: WebhookCall) {
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(_slot) = this.slots.clone().acquire_owned().await else {
                return;
            };
            let mut next = Some(call);
            while let Some(call) = next.take() {
                let outcome = this.call(&call).await;
                match inbox.webhook_done(call.run_id, call.path, outcome).await {
                    Ok(n) => next = n,
                    // The run stays parked; its lease runs out and the scheduler tries again.
                    Err(e) => tracing::warn!("funnels: run {} webhook answer: {e}", call.run_id),
                }
            }
        });
    }

    /// POST the body, retrying what may pass on a second try; the outcome as the history
    /// shows it ("answered 200", "failed: answered 404").
    async fn call(&self, call: &WebhookCall) -> String {
        let body = body(call);
        let mut headers = vec![("idempotency-key", call.key.clone())];
        if let Some(s) = &self.secret {
            headers.push(("x-parley-signature", sign(s, &body)));
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let r = fetch::post_json(&call.url, &self.allow, &headers, body.clone(), TIMEOUT).await;
            let retry = match &r {
                Ok(s) if (200..300).contains(s) => return format!("answered {s}"),
                Ok(s) => *s == 429 || *s >= 500,
                // A refused address will be refused again; an unreachable host may come back.
                Err(e) => !e.to_string().contains("private address"),
            };
            let why = match r {
                Ok(s) => format!("answered {s}"),
                Err(e) => e.to_string(),
            };
            match BACKOFF.get(tries - 1) {
                Some(pause) if retry => tokio::time::sleep(*pause).await,
                _ => {
                    let n = if tries == 1 { "" } else { " (after 3 tries)" };
                    return format!("failed: {why}{n}");
                }
            }
        }
    }
}

/// What the receiver gets: the funnel, the step, the client as the card shows it, the chat.
fn body(call: &WebhookCall) -> Vec<u8> {
    let c = &call.contact;
    json!({
        "event": "funnel.webhook",
        "key": call.key,
        "funnel": {"id": call.funnel_id, "name": call.funnel_name},
        "run_id": call.run_id,
        "step": call.path.to_string(),
        "client": {
            "id": c.id, "name": c.name, "phones": c.phones, "emails": c.emails,
            "tags": c.tags, "fields": c.custom_fields,
        },
        "chat": {"id": call.chat_id, "channel_id": call.channel_id},
        "sent_ms": crate::domain::now_ms(),
    })
    .to_string()
    .into_bytes()
}
