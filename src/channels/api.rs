//! The API channel: inbound REST from any source, outbound JSON POSTed to the channel's
//! callback URL and signed with HMAC-SHA256 of the raw body.

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SendError, classify};
use crate::domain::event::MessageView;
use crate::domain::inbox::Chat;
use crate::error::Error;

/// `POST /webhooks/api/{id}`: one message from one contact.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundBody {
    pub contact: InboundContact,
    pub message: InboundMessage,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundContact {
    pub external_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundMessage {
    pub external_id: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<InboundAttachment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundAttachment {
    pub url: Option<String>,
    pub data_base64: Option<String>,
    pub name: Option<String>,
    pub mime: String,
}

/// Where an attachment's bytes come from.
pub enum FileSource<'a> {
    Inline(Vec<u8>),
    Url(&'a str),
}

impl InboundAttachment {
    /// Decoded lazily: a redelivered message must not cost the decoding again.
    pub fn source(&self, field: &str) -> Result<FileSource<'_>, Error> {
        match (&self.data_base64, &self.url) {
            (Some(data), None) => base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map(FileSource::Inline)
                .map_err(|e| Error::invalid(field, format!("data_base64 is not base64: {e}"))),
            (None, Some(url)) => Ok(FileSource::Url(url)),
            _ => Err(Error::invalid(
                field,
                "give exactly one of url or data_base64",
            )),
        }
    }
}

fn check_id(field: &str, v: &str) -> Result<(), Error> {
    if v.is_empty() || v.len() > 256 || v.contains('\0') {
        return Err(Error::invalid(field, "must be 1 to 256 bytes without NUL"));
    }
    Ok(())
}

/// The body of an inbound API-channel request, parsed and checked; what the handler then
/// stores. Pure, so the fuzzer runs exactly what the server runs.
pub fn parse_inbound(body: &[u8]) -> Result<InboundBody, Error> {
    let b: InboundBody =
        serde_json::from_slice(body).map_err(|e| Error::BadRequest(format!("parse error: {e}")))?;
    check_id("contact.external_id", &b.contact.external_id)?;
    check_id("message.external_id", &b.message.external_id)?;
    if b.message.text.trim().is_empty() && b.message.attachments.is_empty() {
        return Err(Error::invalid("message.text", "send text or attachments"));
    }
    if b.message.attachments.len() > 10 {
        return Err(Error::invalid("message.attachments", "at most 10"));
    }
    Ok(b)
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "sha256={}",
        hex::encode(aws_lc_rs::hmac::sign(&key, body).as_ref())
    )
}

pub fn callback_body(chat: &Chat, view: &MessageView) -> Vec<u8> {
    let m = &view.message;
    let attachments: Vec<Value> = m
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": a.sha256, "name": a.name, "mime": a.mime, "size": a.size,
                "url": format!("/api/v1/blobs/{}", a.sha256),
            })
        })
        .collect();
    json!({
        "event": "message.created",
        "chat_id": chat.id,
        "contact": {"external_id": chat.external_id},
        "message": {
            "id": m.id,
            "kind": m.kind.as_str(),
            "text": m.text,
            "attachments": attachments,
            "author": view.author,
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
