//! The test harness. `TestApp` runs the server in-process; `process` runs the real binary as
//! a child; `tls`, `raw` and `session` are the clients. Those four files are self-contained
//! and shared with the benches (`benches/common/mod.rs` includes them by `#[path]`); the
//! rest (fakes of the platforms, the routes table, WebSockets) is for tests only.

#![allow(dead_code)]

pub mod fake;
pub mod openai;
pub mod process;
pub mod raw;
pub mod routes;
pub mod session;
pub mod telegram;
pub mod tls;
pub mod viber;
pub mod whatsapp;
pub mod ws;

use std::path::{Path, PathBuf};
use std::sync::Once;

use parley::app::{self, Running};
use parley::config::{Config, Overrides};
use reqwest::StatusCode;
use serde_json::{Value, json};

static INIT: Once = Once::new();

pub fn init() {
    INIT.call_once(|| {
        parley::install_crypto_provider();
        if std::env::var("TEST_LOG").is_ok() {
            parley::cli::init_logging("debug");
        }
    });
}

pub const PASSWORD: &str = "correct horse battery";

/// A running Parley with its own data directory.
pub struct TestApp {
    pub url: String,
    pub http_url: Option<String>,
    pub dir: PathBuf,
    pub config_text: String,
    pub running: Option<Running>,
    _tmp: Option<tempfile::TempDir>,
}

pub fn config_from(text: &str, data_dir: &Path) -> Config {
    let file = data_dir.join("test-config.toml");
    std::fs::create_dir_all(data_dir).unwrap();
    std::fs::write(&file, text).unwrap();
    Config::load_from(
        Some(&file),
        &[],
        &Overrides {
            data_dir: Some(data_dir.to_path_buf()),
            listen: Some("127.0.0.1:0".into()),
            http_listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap()
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with("").await
    }

    pub async fn spawn_with(config_text: &str) -> TestApp {
        init();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut app = Self::start_in(&dir, config_text).await;
        app._tmp = Some(tmp);
        app
    }

    /// Start on an existing data directory (restart tests).
    pub async fn start_in(dir: &Path, config_text: &str) -> TestApp {
        init();
        let running = app::start(config_from(config_text, dir)).await.unwrap();
        TestApp {
            url: format!("https://{}", running.https_addr),
            http_url: running.http_addr.map(|a| format!("http://{a}")),
            dir: dir.to_path_buf(),
            config_text: config_text.to_string(),
            running: Some(running),
            _tmp: None,
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    /// Stop the server but keep the data directory; returns the temp dir owner.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(r) = self.running.take() {
            r.stop().await.unwrap();
        }
        self._tmp.take()
    }

    /// Stop and start again on the same data.
    pub async fn restart(self) -> TestApp {
        let dir = self.dir.clone();
        let text = self.config_text.clone();
        let tmp = self.stop().await;
        let mut app = Self::start_in(&dir, &text).await;
        app._tmp = tmp;
        app
    }

    pub async fn add_manager(&self, login: &str, role: &str) -> Value {
        let accounts = &self.running().state.accounts;
        let m = accounts
            .create_manager(parley::accounts::NewManager {
                login: login.into(),
                name: format!("{login} name"),
                role: parley::domain::manager::Role::parse(role).unwrap(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap();
        json!({"id": m.id, "login": m.login})
    }

    pub fn client(&self) -> Browser {
        Browser {
            http: client(),
            url: self.url.clone(),
            csrf: None,
            cookie: None,
        }
    }

    /// A browser signed in as `login` (created with `add_manager`).
    pub async fn login(&self, login: &str) -> Browser {
        let mut b = self.client();
        let s = session::sign_in(&b.http, &self.url, login, PASSWORD).await;
        b.cookie = Some(s.cookie);
        b.csrf = (!s.csrf.is_empty()).then_some(s.csrf);
        b
    }
}

pub fn client() -> reqwest::Client {
    tls::http_client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An API channel with a callback at `callback` (config text for `spawn_with`).
pub fn api_channel(id: &str, callback: Option<&str>) -> String {
    let cb = callback
        .map(|u| format!("callback_url = \"{u}\"\nsecret = \"{SECRET}\"\n"))
        .unwrap_or_default();
    format!(
        "[[channels]]\nid = \"{id}\"\nkind = \"api\"\nname = \"{id} channel\"\ntoken = \"{TOKEN}\"\n{cb}\n"
    )
}

pub const TOKEN: &str = "api-channel-token-0123456789";
pub const SECRET: &str = "callback-secret-xyz";

impl TestApp {
    /// Deliver a client message through the API channel `channel`.
    pub async fn inbound(
        &self,
        channel: &str,
        contact: Value,
        message: Value,
    ) -> (StatusCode, Value) {
        let r = client()
            .post(format!("{}/webhooks/api/{channel}", self.url))
            .bearer_auth(TOKEN)
            .json(&json!({"contact": contact, "message": message}))
            .send()
            .await
            .unwrap();
        let st = r.status();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    /// Wait until every committed change is searchable (the indexer commits in the
    /// background; tests must not depend on how fast).
    pub async fn wait_search(&self) {
        let c = client();
        for _ in 0..400 {
            let v: Value = c
                .get(format!("{}/healthz", self.url))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["index"]["behind"] == 0 && v["index"]["state"] != "rebuilding" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the search index did not catch up within 20 s");
    }

    /// Shorthand: client `ext` writes `text` as message `mid` on channel `crm`.
    pub async fn client_says(&self, ext: &str, name: &str, mid: &str, text: &str) -> Value {
        let (st, v) = self
            .inbound(
                "crm",
                json!({"external_id": ext, "name": name}),
                json!({"external_id": mid, "text": text}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v
    }
}

/// A cookie-keeping client that sends the CSRF token like the web UI does.
pub struct Browser {
    pub http: reqwest::Client,
    pub url: String,
    pub csrf: Option<String>,
    pub cookie: Option<String>,
}

impl Browser {
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let r = self.request(method, path, body).send().await.unwrap();
        let st = r.status();
        let text = r.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (st, v)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::RequestBuilder {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, format!("{}{}", self.url, path));
        if let Some(c) = &self.csrf {
            rb = rb.header("x-csrf-token", c);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb
    }

    /// The session cookie as `name=value`, for WebSocket handshakes.
    pub fn cookie(&self) -> String {
        self.cookie.clone().expect("signed in")
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send("GET", path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send("POST", path, Some(body)).await
    }
}

/// Run the real binary's CLI (the server is run by `process::Serve`).
pub fn parley(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    process::run(process::BIN, args, stdin)
}

pub use process::output_text as text;
