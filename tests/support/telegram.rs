//! A fake Telegram Bot API speaking the documented envelope: `/bot<token>/<method>` answers
//! `{"ok":true,"result":…}`, files are served under `/file/bot<token>/<path>`, getUpdates
//! hands out queued updates from the requested offset (long-polling briefly when there are
//! none). Errors are injected with `Fake::inject`. A test that restarts the server can give
//! each run its own `api_base_for(run)`: every recorded call then says which process made it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::fake::{Fake, Recorded, Reply};

pub const TOKEN: &str = "123456:TEST-token_abc";
pub const SECRET: &str = "tg-secret_0123456789";

/// Bytes with real magic numbers, so the server's type check accepts them.
pub const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00fake-jpeg";
pub const OGG: &[u8] = b"OggS\x00\x02fake-voice";
pub const MP3: &[u8] = b"ID3\x03\x00fake-mp3";
pub const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42fake-video";
pub const PDF: &[u8] = b"%PDF-1.4 fake document";
pub const WEBP: &[u8] = b"RIFF\x10\x00\x00\x00WEBPVP8 fake";

/// file_id → (file_path, bytes)
type FileMap = HashMap<String, (String, Vec<u8>)>;
type Files = Arc<Mutex<FileMap>>;

#[derive(Clone)]
pub struct FakeTelegram {
    pub fake: Fake,
    /// file_id → (file_path, bytes)
    pub files: Files,
    pub updates: Arc<Mutex<Vec<Value>>>,
    next_message_id: Arc<AtomicI64>,
}

fn ok(result: Value) -> Reply {
    Reply::json(200, json!({"ok": true, "result": result}))
}

/// `{"ok":false,…}` as Telegram sends it, with the HTTP status equal to error_code.
pub fn error(code: u16, description: &str, retry_after: Option<u64>) -> Reply {
    let mut v = json!({"ok": false, "error_code": code, "description": description});
    if let Some(s) = retry_after {
        v["parameters"] = json!({"retry_after": s});
    }
    Reply::json(code, v)
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        let files: Files = Arc::default();
        let updates: Arc<Mutex<Vec<Value>>> = Arc::default();
        let next = Arc::new(AtomicI64::new(1000));
        let (f2, u2, n2) = (files.clone(), updates.clone(), next.clone());
        let fake = Fake::with_handler(Arc::new(move |r: &Recorded| handle(r, &f2, &u2, &n2))).await;
        FakeTelegram {
            fake,
            files,
            updates,
            next_message_id: next,
        }
    }

    pub fn api_base(&self) -> String {
        self.fake.url("")
    }

    /// An api_base that tags every call made through it with `run` (see `run_of`).
    pub fn api_base_for(&self, run: u32) -> String {
        self.fake.url(&format!("/run-{run}"))
    }

    pub fn add_file(&self, file_id: &str, path: &str, bytes: &[u8]) {
        self.files
            .lock()
            .unwrap()
            .insert(file_id.into(), (path.into(), bytes.to_vec()));
    }

    pub fn push_update(&self, u: Value) {
        self.updates.lock().unwrap().push(u);
    }

    pub fn calls(&self, method: &str) -> Vec<Recorded> {
        let suffix = format!("/bot{TOKEN}/{method}");
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.path.split('?').next().map(without_run) == Some(suffix.as_str()))
            .collect()
    }

    pub async fn wait_calls(&self, method: &str, n: usize, secs: u64) -> Vec<Recorded> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let c = self.calls(method);
            if c.len() >= n || std::time::Instant::now() > deadline {
                return c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn sent_count(&self) -> i64 {
        self.next_message_id.load(Ordering::SeqCst) - 1000
    }
}

/// The run a call was made by, when it came through `api_base_for(run)`.
pub fn run_of(r: &Recorded) -> Option<u32> {
    r.path
        .strip_prefix("/run-")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

fn without_run(path: &str) -> &str {
    match path
        .strip_prefix("/run-")
        .and_then(|p| p.find('/').map(|i| &p[i..]))
    {
        Some(rest) => rest,
        None => path,
    }
}

fn handle(
    r: &Recorded,
    files: &Mutex<FileMap>,
    updates: &Mutex<Vec<Value>>,
    next: &AtomicI64,
) -> Reply {
    let path = without_run(r.path.split('?').next().unwrap_or(""));
    if let Some(rest) = path.strip_prefix(&format!("/file/bot{TOKEN}/")) {
        let files = files.lock().unwrap();
        return match files.values().find(|(p, _)| p == rest) {
            Some((_, bytes)) => Reply::bytes("application/octet-stream", bytes),
            None => error(404, "Not Found", None),
        };
    }
    let Some(method) = path.strip_prefix(&format!("/bot{TOKEN}/")) else {
        return error(401, "Unauthorized", None);
    };
    let params: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    match method {
        "setWebhook" => Reply::json(
            200,
            json!({"ok": true, "result": true, "description": "Webhook was set"}),
        ),
        "deleteWebhook" => Reply::json(
            200,
            json!({"ok": true, "result": true, "description": "Webhook was deleted"}),
        ),
        "getUpdates" => {
            let offset = params["offset"].as_i64().unwrap_or(0);
            let ready: Vec<Value> = updates
                .lock()
                .unwrap()
                .iter()
                .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                .cloned()
                .collect();
            let mut reply = ok(Value::Array(ready.clone()));
            if ready.is_empty() {
                reply.delay_ms = 200;
            }
            reply
        }
        "getFile" => {
            let id = params["file_id"].as_str().unwrap_or("");
            match files.lock().unwrap().get(id) {
                Some((p, bytes)) => ok(json!({
                    "file_id": id, "file_unique_id": format!("u-{id}"),
                    "file_size": bytes.len(), "file_path": p,
                })),
                None => error(400, "Bad Request: invalid file_id", None),
            }
        }
        "sendMessage" | "sendPhoto" | "sendVoice" | "sendVideo" | "sendDocument" => {
            let id = next.fetch_add(1, Ordering::SeqCst);
            let chat = params["chat_id"]
                .as_str()
                .and_then(|c| c.parse::<i64>().ok())
                .or_else(|| params["chat_id"].as_i64())
                .or_else(|| multipart_field(&r.body, "chat_id").and_then(|c| c.parse().ok()))
                .unwrap_or(0);
            ok(json!({
                "message_id": id, "date": 1_700_000_000,
                "chat": {"id": chat, "type": "private"},
                "from": {"id": 1, "is_bot": true, "first_name": "Parley bot"},
            }))
        }
        _ => error(404, "Not Found: method not found", None),
    }
}

/// The value of a text field in a multipart/form-data body.
pub fn multipart_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let marker = format!("name=\"{name}\"");
    let at = text.find(&marker)?;
    let rest = &text[at + marker.len()..];
    let start = rest.find("\r\n\r\n")? + 4;
    let end = rest[start..].find("\r\n--")?;
    Some(rest[start..start + end].to_string())
}

/// The headers of the part named `name` (its filename and content type).
pub fn multipart_part_head(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let marker = format!("name=\"{name}\"");
    let at = text.find(&marker)?;
    let rest = &text[at..];
    let end = rest.find("\r\n\r\n")?;
    Some(rest[..end].to_string())
}

/// A private-chat Update carrying `message` fields.
pub fn message_update(update_id: i64, chat_id: i64, message_id: i64, fields: Value) -> Value {
    let mut m = json!({
        "message_id": message_id,
        "from": {"id": chat_id, "is_bot": false, "first_name": "Ivan", "last_name": "Petrov",
                 "username": "ivanp", "language_code": "ru"},
        "chat": {"id": chat_id, "type": "private", "first_name": "Ivan", "last_name": "Petrov",
                 "username": "ivanp"},
        "date": 1_700_000_000,
    });
    for (k, v) in fields.as_object().unwrap() {
        m[k] = v.clone();
    }
    json!({"update_id": update_id, "message": m})
}
