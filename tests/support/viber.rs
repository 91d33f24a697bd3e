//! A fake Viber REST Bot API: answers `set_webhook` and `send_message` the way Viber does
//! (HTTP 200 with a `status` in the body, `message_token` as a JSON integer beyond 2^53),
//! serves media files from loopback URLs with real magic bytes, and signs callbacks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::fake::{Fake, Recorded, Reply};
use super::{TestApp, client};

pub const TOKEN: &str = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9";
/// The first token `send_message` hands out; later ones count up.
pub const FIRST_TOKEN: u64 = 5_741_311_803_571_721_087;

pub const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00fake-jpeg-body";
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0000IHDR-fake-sticker";
pub const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42fake-video-body";
pub const PDF: &[u8] = b"%PDF-1.4 fake document";

pub struct ViberFake {
    pub fake: Fake,
    next_token: Arc<AtomicU64>,
    /// The next `send_message` of this type answers status 12 (tooManyRequests) once.
    pub throttle_once: Arc<std::sync::Mutex<Option<String>>>,
    pub media_down: Arc<AtomicBool>,
}

impl ViberFake {
    pub async fn start() -> ViberFake {
        let next_token = Arc::new(AtomicU64::new(FIRST_TOKEN));
        let throttle_once = Arc::new(std::sync::Mutex::new(None::<String>));
        let media_down = Arc::new(AtomicBool::new(false));
        let (n, t, down) = (
            next_token.clone(),
            throttle_once.clone(),
            media_down.clone(),
        );
        let handler = Arc::new(move |rec: &Recorded| {
            let path = rec.path.as_str();
            if path.ends_with("/pa/set_webhook") {
                return Reply::json(
                    200,
                    json!({"status": 0, "status_message": "ok", "event_types": [
                        "delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"
                    ]}),
                );
            }
            if path.ends_with("/pa/send_message") {
                let kind = rec.json()["type"].as_str().unwrap_or("").to_string();
                let mut throttle = t.lock().unwrap();
                if throttle.as_deref() == Some(kind.as_str()) {
                    *throttle = None;
                    return Reply::json(
                        200,
                        json!({"status": 12, "status_message": "tooManyRequests"}),
                    );
                }
                let token = n.fetch_add(1, Ordering::SeqCst);
                return Reply::json(
                    200,
                    json!({"status": 0, "status_message": "ok", "message_token": token,
                           "chat_hostname": "SN-CHAT-05_", "billing_status": 1}),
                );
            }
            if down.load(Ordering::SeqCst) && path.starts_with("/media/") {
                return Reply::json(503, json!({}));
            }
            match path {
                "/media/photo.jpg" => Reply::bytes("image/jpeg", JPEG),
                "/media/sticker.png" => Reply::bytes("image/png", PNG),
                "/media/clip.mp4" => Reply::bytes("video/mp4", MP4),
                "/media/report.pdf" => Reply::bytes("application/pdf", PDF),
                "/media/forged.jpg" => Reply::bytes("image/jpeg", b"<script>alert(1)</script>"),
                _ => Reply::json(404, json!({})),
            }
        });
        ViberFake {
            fake: Fake::with_handler(handler).await,
            next_token,
            throttle_once,
            media_down,
        }
    }

    pub fn api_base(&self) -> String {
        self.fake.url("/pa")
    }

    pub fn media(&self, name: &str) -> String {
        self.fake.url(&format!("/media/{name}"))
    }

    /// The token the next successful `send_message` will get.
    pub fn next_token(&self) -> u64 {
        self.next_token.load(Ordering::SeqCst)
    }

    pub fn sends(&self) -> Vec<Recorded> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/pa/send_message"))
            .collect()
    }

    pub async fn wait_sends(&self, n: usize) -> Vec<Recorded> {
        self.fake
            .wait_for(20, |r| {
                r.iter()
                    .filter(|r| r.path.ends_with("/pa/send_message"))
                    .count()
                    >= n
            })
            .await;
        self.sends()
    }
}

/// Config for a Viber channel `vb` against the fake (and `public_url` when given).
pub fn config(fake: &ViberFake, public_url: Option<&str>) -> String {
    let server = public_url
        .map(|u| format!("[server]\npublic_url = \"{u}\"\n\n"))
        .unwrap_or_default();
    format!(
        "{server}[[channels]]\nid = \"vb\"\nkind = \"viber\"\nname = \"{NAME}\"\ntoken = \"{TOKEN}\"\napi_base = \"{}\"\n",
        fake.api_base()
    )
}

/// Longer than Viber's 28-character sender name.
pub const NAME: &str = "Parley Support Bot for Viber Users";

/// POST a callback body to `/webhooks/viber/{channel}` signed as Viber signs it.
pub async fn post(app: &TestApp, channel: &str, body: &Value) -> (StatusCode, String) {
    let raw = body.to_string();
    let sig = parley::channels::viber::signature(TOKEN, raw.as_bytes());
    post_raw(app, channel, raw.into_bytes(), Some(&sig)).await
}

pub async fn post_raw(
    app: &TestApp,
    channel: &str,
    body: Vec<u8>,
    signature: Option<&str>,
) -> (StatusCode, String) {
    let mut rb = client()
        .post(format!("{}/webhooks/viber/{channel}", app.url))
        .header("content-type", "application/json")
        .body(body);
    if let Some(s) = signature {
        rb = rb.header("X-Viber-Content-Signature", s);
    }
    let r = rb.send().await.unwrap();
    let st = r.status();
    (st, r.text().await.unwrap())
}

/// A `message` callback as Viber sends it; `message_token` is a JSON integer.
pub fn message(token: u64, user: &str, name: &str, message: Value) -> Value {
    json!({
        "event": "message",
        "timestamp": 1_457_764_197_627_i64,
        "chat_hostname": "SN-376_",
        "message_token": token,
        "sender": {
            "id": user,
            "name": name,
            "avatar": "http://avatar.example.com",
            "country": "UK",
            "language": "en",
            "api_version": 1
        },
        "message": message,
        "silent": false
    })
}
