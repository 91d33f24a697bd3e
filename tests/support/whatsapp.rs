//! A fake WhatsApp Cloud API (Graph) speaking the format of CHANNELS.md section 2: media
//! lookups by id answer a loopback download URL, downloads and uploads need the Bearer token,
//! sends answer a fresh wamid. Plus webhook fixture builders and a signed POST driver.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::TestApp;
use super::fake::{Fake, Recorded, Reply};

pub const VERSION: &str = "v21.0";
pub const PNID: &str = "106540352242922";
pub const TOKEN: &str = "EAAG-wa-access-token-123";
pub const APP_SECRET: &str = "wa-app-secret-456";
pub const VERIFY_TOKEN: &str = "wa-verify-token-789";

/// A 1×1 JPEG's first bytes (SOI + APP0/JFIF), enough for the type check.
pub const JPEG: &[u8] =
    b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF\xD9";
pub const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00";
pub const OGG: &[u8] = b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00OpusHead";
pub const PDF: &[u8] = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
pub const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom";
pub const WEBP: &[u8] = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00";

/// media id → (mime as the media endpoint reports it, bytes).
pub type MediaStore = Arc<Mutex<HashMap<String, (String, Vec<u8>)>>>;

pub struct WaFake {
    pub fake: Fake,
    pub media: MediaStore,
}

impl WaFake {
    pub async fn start() -> WaFake {
        let media: MediaStore = Arc::default();
        let next = Arc::new(AtomicU64::new(1));
        let m = media.clone();
        let fake = Fake::with_handler(Arc::new(move |rec: &Recorded| answer(rec, &m, &next))).await;
        WaFake { fake, media }
    }

    /// The base URL to configure as `api_base`.
    pub fn base(&self) -> String {
        self.fake.url("")
    }

    pub fn add_media(&self, id: &str, mime: &str, bytes: &[u8]) {
        self.media
            .lock()
            .unwrap()
            .insert(id.into(), (mime.into(), bytes.to_vec()));
    }

    /// Recorded requests whose path (query stripped) is exactly `path`.
    pub fn calls(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.split('?').next() == Some(path))
            .collect()
    }

    pub fn sends(&self) -> Vec<Recorded> {
        self.calls("POST", &format!("/{VERSION}/{PNID}/messages"))
    }

    pub fn uploads(&self) -> Vec<Recorded> {
        self.calls("POST", &format!("/{VERSION}/{PNID}/media"))
    }

    /// Accept the next send as `wamid`, but answer only once a permit is added to the
    /// returned gate (a webhook can then arrive before the send's answer).
    pub fn hold_next_send(&self, wamid: &str) -> Arc<tokio::sync::Semaphore> {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let mut reply = Reply::json(
            200,
            json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": "x", "wa_id": "x"}],
                "messages": [{"id": wamid, "message_status": "accepted"}]
            }),
        );
        reply.hold = Some(gate.clone());
        self.fake.inject(Some("/messages"), reply);
        gate
    }

    /// Answer the next send with a Graph error.
    pub fn fail_next_send(&self, status: u16, code: i64, message: &str, details: &str) {
        self.fake.inject(
            Some("/messages"),
            graph_error(status, code, message, details),
        );
    }
}

pub fn graph_error(status: u16, code: i64, message: &str, details: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": "AbCdEf123"
        }}),
    )
}

fn answer(
    rec: &Recorded,
    media: &Mutex<HashMap<String, (String, Vec<u8>)>>,
    next: &AtomicU64,
) -> Reply {
    if rec.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return graph_error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            "",
        );
    }
    let path = rec.path.split('?').next().unwrap_or("").to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (rec.method.as_str(), parts.as_slice()) {
        ("POST", [v, pnid, "messages"]) if *v == VERSION && *pnid == PNID => {
            let to = serde_json::from_slice::<Value>(&rec.body)
                .ok()
                .and_then(|b| b["to"].as_str().map(String::from))
                .unwrap_or_default();
            let n = next.fetch_add(1, Ordering::SeqCst);
            Reply::json(
                200,
                json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": to, "wa_id": to}],
                    "messages": [{"id": format!("wamid.OUT{n}"), "message_status": "accepted"}]
                }),
            )
        }
        ("POST", [v, pnid, "media"]) if *v == VERSION && *pnid == PNID => {
            // The id names the uploaded file, so tests can tell which upload a send refers to.
            let text = String::from_utf8_lossy(&rec.body);
            match text
                .split("filename=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
            {
                Some(name) => Reply::json(200, json!({"id": format!("up-{name}")})),
                None => graph_error(400, 100, "(#100) The parameter file is required.", ""),
            }
        }
        ("GET", [v, pnid]) if *v == VERSION && *pnid == PNID => Reply::json(
            200,
            json!({"display_phone_number": "+1 555-010-0000", "verified_name": "Parley Shop", "id": PNID}),
        ),
        ("GET", ["download", id]) => match media.lock().unwrap().get(*id) {
            Some((mime, bytes)) => Reply::bytes(mime, bytes),
            None => graph_error(404, 100, "media not found", ""),
        },
        ("GET", [v, id]) if *v == VERSION => match media.lock().unwrap().get(*id) {
            Some((mime, bytes)) => {
                let host = rec.header("host").unwrap_or("127.0.0.1");
                Reply::json(
                    200,
                    json!({
                        "messaging_product": "whatsapp",
                        "url": format!("http://{host}/download/{id}"),
                        "mime_type": mime,
                        "sha256": "0".repeat(64),
                        "file_size": bytes.len().to_string(),
                        "id": id,
                    }),
                )
            }
            None => graph_error(
                400,
                100,
                "Unsupported get request. Object does not exist",
                "",
            ),
        },
        _ => graph_error(400, 100, "Unknown path components", ""),
    }
}

/// The channel block for `spawn_with`, pointing at the fake.
pub fn channel(id: &str, api_base: &str, extra: &str) -> String {
    format!(
        "[[channels]]\nid = \"{id}\"\nkind = \"whatsapp\"\nname = \"WhatsApp\"\n\
         access_token = \"{TOKEN}\"\napp_secret = \"{APP_SECRET}\"\nverify_token = \"{VERIFY_TOKEN}\"\n\
         phone_number_id = \"{PNID}\"\napi_version = \"{VERSION}\"\napi_base = \"{api_base}\"\n{extra}\n"
    )
}

/// A webhook body with one change carrying `value` for our phone number.
pub fn body(value: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [entry(PNID, vec![value])]})
}

pub fn entry(pnid: &str, values: Vec<Value>) -> Value {
    json!({"id": "102290129340398", "changes": values.into_iter().map(|mut v| {
        v["messaging_product"] = json!("whatsapp");
        v["metadata"] = json!({"display_phone_number": "15550100000", "phone_number_id": pnid});
        json!({"field": "messages", "value": v})
    }).collect::<Vec<_>>()})
}

/// `value` with inbound `messages` from a client with a profile name.
pub fn messages(wa_id: &str, name: &str, msgs: Vec<Value>) -> Value {
    json!({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": msgs})
}

/// One inbound message of `kind` with its `payload` object.
pub fn msg(from: &str, wamid: &str, kind: &str, payload: Value) -> Value {
    let mut m = json!({"from": from, "id": wamid, "timestamp": "1717000000", "type": kind});
    if kind == "contacts" {
        m["contacts"] = payload;
    } else {
        m[kind] = payload;
    }
    m
}

pub fn statuses(list: Vec<Value>) -> Value {
    json!({ "statuses": list })
}

pub fn status(wamid: &str, status: &str, recipient: &str) -> Value {
    json!({
        "id": wamid, "status": status, "timestamp": "1717000100", "recipient_id": recipient,
        "conversation": {"id": "conv1", "origin": {"type": "service"}},
        "pricing": {"billable": true, "pricing_model": "CBP", "category": "service"}
    })
}

pub fn sign(body: &[u8]) -> String {
    parley::channels::api::sign(APP_SECRET, body)
}

impl TestApp {
    /// POST raw bytes to the WhatsApp webhook with `signature` (None: no header).
    pub async fn wa_post_raw(
        &self,
        channel: &str,
        body: &[u8],
        signature: Option<String>,
    ) -> (u16, String) {
        let mut rb = super::client()
            .post(format!("{}/webhooks/whatsapp/{channel}", self.url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            rb = rb.header("x-hub-signature-256", s);
        }
        let r = rb.send().await.unwrap();
        let st = r.status().as_u16();
        (st, r.text().await.unwrap())
    }

    /// POST a correctly signed webhook body.
    pub async fn wa_post(&self, channel: &str, body: &Value) -> (u16, String) {
        let bytes = body.to_string().into_bytes();
        let sig = sign(&bytes);
        self.wa_post_raw(channel, &bytes, Some(sig)).await
    }
}
