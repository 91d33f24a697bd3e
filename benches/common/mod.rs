//! Shared by the benchmarks: environment knobs, percentiles, and a lean HTTP/1.1-over-TLS
//! load client. The client matters on a 2-core machine: with reqwest the load generator
//! used about as much CPU as the server under test, so the figures measured the client.
//! The harness itself (the server as a process, TLS clients, sign-in, raw HTTP) is the
//! tests' own, included from `tests/support` so that both run the server the same way.

#![allow(dead_code)]

#[path = "../../tests/support/process.rs"]
pub mod process;
#[path = "../../tests/support/raw.rs"]
pub mod raw;
#[path = "../../tests/support/session.rs"]
pub mod session;
#[path = "../../tests/support/tls.rs"]
pub mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// The server in this process, for benches that read its state (index progress, the
/// service layer without HTTP): `config` written to `dir`, data in `dir/data`, HTTPS on a
/// free loopback port, the plain listener off.
pub async fn start_in_process(dir: &std::path::Path, config: &str) -> parley::app::Running {
    let file = dir.join("c.toml");
    std::fs::write(&file, config).unwrap();
    let config = parley::config::Config::load_from(
        Some(&file),
        &[],
        &parley::config::Overrides {
            data_dir: Some(dir.join("data")),
            listen: Some("127.0.0.1:0".into()),
            http_listen: Some("off".into()),
        },
    )
    .unwrap();
    parley::app::start(config).await.unwrap()
}

/// One request of a throughput phase: path, headers, body, for connection `w`, request `i`.
pub type Make =
    Arc<dyn Fn(u64, u64) -> (String, Vec<(&'static str, String)>, Vec<u8>) + Send + Sync>;

/// One Telegram webhook request (path, headers, body): a private message from client `chat`
/// with update and message id `id`, to the channel `tg`.
pub fn telegram_update(
    secret: &str,
    id: u64,
    chat: u64,
) -> (String, Vec<(&'static str, String)>, Vec<u8>) {
    let body = serde_json::json!({"update_id": id, "message": {
        "message_id": id, "date": 1_700_000_000,
        "from": {"id": chat, "is_bot": false, "first_name": "Bench", "last_name": format!("{chat}")},
        "chat": {"id": chat, "type": "private", "first_name": "Bench"},
        "text": "benchmark message through the Telegram webhook"}});
    (
        "/webhooks/telegram/tg".into(),
        vec![
            ("content-type", "application/json".into()),
            ("x-telegram-bot-api-secret-token", secret.into()),
        ],
        body.to_string().into_bytes(),
    )
}

/// Closed loop: `conns` connections post as fast as they are answered for `secs`. Returns
/// the rate of 200s per second, their latency p50 and p99 in ms, and the count of other
/// answers and broken connections.
pub async fn closed_loop(
    addr: std::net::SocketAddr,
    conns: u64,
    secs: u64,
    make: Make,
) -> (f64, f64, f64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut hs = Vec::new();
    let t = Instant::now();
    for w in 0..conns {
        let (make, ok, bad, lat) = (make.clone(), ok.clone(), bad.clone(), lat.clone());
        hs.push(tokio::spawn(async move {
            let mut conn = RawConn::connect(addr).await;
            let (mut i, mut mine) = (0u64, Vec::new());
            while Instant::now() < deadline {
                let (path, headers, body) = make(w, i);
                let t = Instant::now();
                match conn.post(&path, &headers, &body).await {
                    Ok((200, _)) => {
                        mine.push(t.elapsed().as_secs_f64() * 1000.0);
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        bad.fetch_add(1, Ordering::Relaxed);
                        conn = RawConn::connect(addr).await;
                    }
                }
                i += 1;
            }
            lat.lock().unwrap().extend(mine);
        }));
    }
    for h in hs {
        h.await.unwrap();
    }
    let rate = ok.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    let mut l = lat.lock().unwrap().clone();
    (
        rate,
        pct(&mut l, 0.5),
        pct(&mut l, 0.99),
        bad.load(Ordering::Relaxed),
    )
}

/// One keep-alive TLS connection speaking just enough HTTP/1.1 to post and read answers.
pub struct RawConn {
    io: BufReader<tls::Tls>,
    host: String,
    line: String,
    /// The headers of the last answer (lower-case names).
    pub headers: Vec<(String, String)>,
}

impl RawConn {
    pub async fn connect(addr: std::net::SocketAddr) -> RawConn {
        Self::try_connect(addr).await.unwrap()
    }

    pub async fn try_connect(addr: std::net::SocketAddr) -> std::io::Result<RawConn> {
        let tls = tls::connect(&tls::connector(), addr).await?;
        Ok(RawConn {
            io: BufReader::with_capacity(16 * 1024, tls),
            host: addr.to_string(),
            line: String::new(),
            headers: Vec::new(),
        })
    }

    /// GET `path` and return the answer's status and body.
    pub async fn get(
        &mut self,
        path: &str,
        headers: &[(&str, String)],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let mut req = format!("GET {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        self.io.get_mut().write_all(req.as_bytes()).await?;
        self.io.get_mut().flush().await?;
        self.read_answer().await
    }

    /// POST `body` and return the answer's status and body.
    pub async fn post(
        &mut self,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n",
            self.host,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let mut out = req.into_bytes();
        out.extend_from_slice(body);
        self.io.get_mut().write_all(&out).await?;
        self.io.get_mut().flush().await?;
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> std::io::Result<(u16, Vec<u8>)> {
        let mut status = 0u16;
        let mut length = 0usize;
        let mut chunked = false;
        let mut first = true;
        self.headers.clear();
        loop {
            self.line.clear();
            if self.io.read_line(&mut self.line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let l = self.line.trim_end();
            if first {
                status = l
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                first = false;
            } else if l.is_empty() {
                break;
            } else if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    length = v.parse().unwrap_or(0);
                } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
                self.headers.push((k, v));
            }
        }
        if !chunked {
            let mut body = vec![0; length];
            self.io.read_exact(&mut body).await?;
            return Ok((status, body));
        }
        let mut body = Vec::new();
        loop {
            self.line.clear();
            self.io.read_line(&mut self.line).await?;
            let size = usize::from_str_radix(self.line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            let at = body.len();
            body.resize(at + size, 0);
            self.io.read_exact(&mut body[at..]).await?;
            self.line.clear();
            self.io.read_line(&mut self.line).await?;
            if size == 0 {
                return Ok((status, body));
            }
        }
    }
}
