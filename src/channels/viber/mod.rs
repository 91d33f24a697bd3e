//! Viber REST Bot API (CHANNELS.md §3): `set_webhook` at start, signed callbacks in,
//! `send_message` out. Viber answers HTTP 200 even when a call fails, so every answer's
//! `status` is checked; and it fetches outbound media by URL, so files go out as expiring
//! signed links to our blobs.

mod inbound;
mod outbound;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::adapter::{Adapter, Fetched, Head, Item, Media, Sending, hex_signature};
use super::{Ctx, Outgoing, SendError, classify, redact, transport};
use crate::config::{ChannelConfig, ChannelKindConfig};
use crate::error::{Error, Result};
use crate::inbox::ingest::Inbound;

pub use inbound::{finish, parse_callback};

/// The Viber adapter. A handled callback is answered 200 without a body: Viber would take
/// one as a welcome message.
pub struct Viber;

impl Adapter for Viber {
    fn start(
        &self,
        ctx: &Ctx,
        ch: &ChannelConfig,
        stop: &watch::Receiver<bool>,
    ) -> Option<JoinHandle<()>> {
        Some(tokio::spawn(run(ctx.clone(), ch.clone(), stop.clone())))
    }

    fn send<'a>(&'a self, ctx: &'a Ctx, out: &'a Outgoing<'a>) -> Sending<'a> {
        Box::pin(outbound::send(ctx, out))
    }

    /// `X-Viber-Content-Signature` signs the raw body; it must at least look like one.
    fn check_head(&self, _ch: &ChannelConfig, head: &dyn Head) -> Result<()> {
        hex_signature(head.header("x-viber-content-signature"), "")
    }

    /// A bad or missing signature is `Unauthenticated` and stores nothing.
    fn verify(&self, ch: &ChannelConfig, head: &dyn Head, body: &[u8]) -> Result<()> {
        let Some((token, _)) = credentials(ch) else {
            return Err(Error::NotFound(format!("Viber channel {:?}", ch.id)));
        };
        if !authentic(token, body, head.header("x-viber-content-signature")) {
            return Err(Error::Unauthenticated);
        }
        Ok(())
    }

    fn parse(&self, ch: &ChannelConfig, body: &[u8]) -> Result<Vec<Item>> {
        Ok(parse_callback(&ch.id, body))
    }

    fn fetch<'a>(
        &'a self,
        ctx: &'a Ctx,
        ch: &'a ChannelConfig,
        file: &'a Media,
    ) -> BoxFuture<'a, Result<Fetched>> {
        inbound::fetch(ctx, ch, file)
    }

    fn add_note(&self, text: &mut String, note: &str) {
        inbound::add_note(text, note);
    }

    /// A message is never stored without a visible text or file.
    fn finish(&self, kind: &str, inbound: &mut Inbound) {
        finish(kind, inbound);
    }
}

/// Callbacks we ask for; `message` and `webhook` always come.
pub const EVENT_TYPES: [&str; 6] = [
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
];
const WEBHOOK_RETRY_FIRST: Duration = Duration::from_secs(5);
const WEBHOOK_RETRY_MAX: Duration = Duration::from_secs(300);

/// The bot token and API base of a Viber channel.
pub fn credentials(ch: &ChannelConfig) -> Option<(&str, &str)> {
    match &ch.kind {
        ChannelKindConfig::Viber { token, api_base } => Some((token, api_base)),
        _ => None,
    }
}

/// `X-Viber-Content-Signature`: hex HMAC-SHA256 of the raw body, keyed with the bot token.
pub fn signature(token: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, token.as_bytes());
    hex::encode(aws_lc_rs::hmac::sign(&key, body).as_ref())
}

fn authentic(token: &str, body: &[u8], sent: Option<&str>) -> bool {
    let Some(sent) = sent else { return false };
    let want = signature(token, body);
    crate::accounts::same_secret(sent.trim().to_ascii_lowercase().as_bytes(), want.as_bytes())
}

/// A `message_token` as its exact decimal text. Tokens exceed 2^53, so they must never pass
/// through f64 (serde_json keeps integers that fit u64/i64 exact).
fn token_of(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(|u| u.to_string())
            .or_else(|| n.as_i64().map(|i| i.to_string())),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.clone())
        }
        _ => None,
    }
}

/// Why a Viber call did not succeed.
enum Failure {
    /// Viber answered with a non-zero `status`.
    Status(i64, String),
    /// No usable answer (transport error, HTTP error, not JSON).
    Http(SendError),
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Status(n, msg) => format!("status {n}: {msg}"),
            Failure::Http(SendError::Retry { reason, .. })
            | Failure::Http(SendError::Permanent(reason))
            | Failure::Http(SendError::Unreachable(reason)) => reason.clone(),
        }
    }
}

/// `POST {api_base}/{method}`; the answer when its `status` is 0.
async fn call(
    ctx: &Ctx,
    token: &str,
    api_base: &str,
    method: &str,
    body: &Value,
) -> std::result::Result<Value, Failure> {
    let url = format!("{}/{method}", api_base.trim_end_matches('/'));
    let hide = |e: SendError| match e {
        SendError::Retry { reason, after } => SendError::Retry {
            reason: redact(&reason, &[token]),
            after,
        },
        SendError::Permanent(r) => SendError::Permanent(redact(&r, &[token])),
        SendError::Unreachable(r) => SendError::Unreachable(redact(&r, &[token])),
    };
    let r = ctx
        .http
        .post(&url)
        .header("X-Viber-Auth-Token", token)
        .json(body)
        .send()
        .await
        .map_err(|e| Failure::Http(hide(transport(&format!("Viber {method}"), e))))?;
    let status = r.status();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = r
        .text()
        .await
        .map_err(|e| Failure::Http(hide(transport(&format!("Viber {method}"), e))))?;
    if !status.is_success() {
        return Err(Failure::Http(hide(classify(
            status,
            retry_after.as_deref(),
            &text,
        ))));
    }
    let unusable = |what: &str| {
        let snippet: String = text.chars().take(200).collect();
        Failure::Http(SendError::Retry {
            reason: redact(&format!("Viber {method}: {what}: {snippet}"), &[token]),
            after: None,
        })
    };
    let v: Value = serde_json::from_str(&text).map_err(|_| unusable("the answer is not JSON"))?;
    match v.get("status").and_then(Value::as_i64) {
        Some(0) => Ok(v),
        Some(n) => {
            let msg = v
                .get("status_message")
                .and_then(Value::as_str)
                .unwrap_or("no status_message");
            Err(Failure::Status(n, redact(msg, &[token])))
        }
        None => Err(unusable("the answer has no status")),
    }
}

/// Start-up: point the bot's webhook at us, retrying with backoff until it works or the
/// server stops. Viber checks the URL during the call by POSTing a `webhook` event to it,
/// so this runs only once the HTTPS listener is accepting.
async fn run(ctx: Ctx, ch: ChannelConfig, mut stop: watch::Receiver<bool>) {
    let Some((token, api_base)) = credentials(&ch) else {
        return;
    };
    let base = match ctx.public_base("the Viber webhook") {
        Ok(b) => b,
        Err(e) => {
            ctx.states().set_state(&ch.id, "error", Some(e.to_string()));
            ctx.states().error(&ch.id, e.to_string());
            return;
        }
    };
    let url = format!("{base}/webhooks/viber/{}", ch.id);
    let body = json!({
        "url": url,
        "event_types": EVENT_TYPES,
        "send_name": true,
        "send_photo": false,
    });
    let mut wait = WEBHOOK_RETRY_FIRST;
    loop {
        if *stop.borrow() {
            return;
        }
        match call(&ctx, token, api_base, "set_webhook", &body).await {
            Ok(_) => {
                ctx.states()
                    .set_state(&ch.id, "connected", Some(format!("webhook {url}")));
                return;
            }
            Err(f) => {
                let msg = format!("Viber set_webhook failed: {}", f.describe());
                ctx.states().set_state(&ch.id, "error", Some(msg.clone()));
                ctx.states()
                    .error(&ch.id, format!("{msg}; retrying in {} s", wait.as_secs()));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        wait = (wait * 2).min(WEBHOOK_RETRY_MAX);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn big_message_tokens_stay_exact() {
        let v: Value = serde_json::from_str(r#"{"t":5741311803571721087}"#).unwrap();
        assert_eq!(super::token_of(&v["t"]).unwrap(), "5741311803571721087");
        let v: Value = serde_json::from_str(r#"{"t":"5741311803571721087"}"#).unwrap();
        assert_eq!(super::token_of(&v["t"]).unwrap(), "5741311803571721087");
        let v: Value = serde_json::from_str(r#"{"t":5.741311803571721e18}"#).unwrap();
        assert_eq!(super::token_of(&v["t"]), None, "a float is not a token");
    }

    #[test]
    fn signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(super::authentic(
            "Jefe",
            b"what do ya want for nothing?",
            Some("5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843")
        ));
        assert!(!super::authentic("Jefe", b"what do ya want?", None));
    }
}
