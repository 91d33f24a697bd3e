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
