//! HTTP/1.1 written by hand, for clients that must control every byte (hostile requests,
//! pipelining, heads without bodies) where reqwest would tidy them up. Shared by the hostile
//! test and bench (`#[path]`).

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One keep-alive HTTP/1.1 connection: request, then the answer's status and body
/// (Content-Length framing, which is what the server sends for JSON).
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    head: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut out = head.as_bytes().to_vec();
    out.extend_from_slice(body);
    s.write_all(&out).await?;
    s.flush().await?;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Ok((status, body))
}

pub fn get(path: &str, cookie: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: localhost\r\ncookie: {cookie}\r\n\r\n")
}

/// A POST head declaring `len` body bytes; `extra` is more header lines, each ending in CRLF.
pub fn post(path: &str, extra: &str, len: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n{extra}content-length: {len}\r\n\r\n"
    )
}

/// Wait until the server closed `s` (EOF or reset); the time it took, or `None` after `secs`.
pub async fn closed_within<S: AsyncRead + Unpin>(s: &mut S, secs: u64) -> Option<Duration> {
    let t0 = Instant::now();
    let mut buf = [0u8; 1024];
    let wait = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), wait)
        .await
        .ok()
        .map(|()| t0.elapsed())
}
