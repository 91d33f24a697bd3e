//! The API channel: inbound REST from any source, outbound JSON POSTed to the channel's
//! callback URL and signed with HMAC-SHA256 of the raw body.

use serde_json::{Value, json};

use super::{SendError, classify};
use crate::domain::inbox::{Chat, Message};

pub fn sign(secret: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "sha256={}",
        hex::encode(aws_lc_rs::hmac::sign(&key, body).as_ref())
    )
}

pub fn callback_body(chat: &Chat, m: &Message, message: Value) -> Vec<u8> {
    let author = message.get("author").cloned().unwrap_or(Value::Null);
    json!({
        "event": "message.created",
        "chat_id": chat.id,
        "contact": {"external_id": chat.external_id},
        "message": {
            "id": m.id,
            "kind": m.kind.as_str(),
            "text": m.text,
            "attachments": message.get("attachments").cloned().unwrap_or(Value::Array(vec![])),
            "author": author,
            "created_ms": m.created_ms,
        }
    })
    .to_string()
    .into_bytes()
}

pub async fn deliver(
    http: &reqwest::Client,
    callback_url: &str,
    secret: &str,
    body: Vec<u8>,
) -> Result<Option<String>, SendError> {
    let sig = sign(secret, &body);
    let r = http
        .post(callback_url)
        .header("content-type", "application/json")
        .header("x-parley-signature", sig)
        .body(body)
        .send()
        .await
        .map_err(|e| SendError::Retry {
            reason: format!("callback unreachable: {e}"),
            after: None,
        })?;
    let status = r.status();
    if status.is_success() {
        return Ok(None);
    }
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let text = r.text().await.unwrap_or_default();
    Err(classify(status, retry_after.as_deref(), &text))
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
