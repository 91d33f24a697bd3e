//! Deadlines for slow clients. poem's idle timeout is reset by every byte, so a client that
//! dribbles a request head or body one byte at a time would hold its connection (and a task)
//! forever. This wraps each accepted connection, above TLS, and closes it when:
//! - a request head (TLS handshake included, for the first one) is not complete within
//!   `HEAD_TIMEOUT` of its first byte;
//! - a request body arrives slower than `BODY_GRACE` plus one second per `BODY_RATE` bytes,
//!   or takes longer than `BODY_MAX` in all (bodies read into memory have a stricter,
//!   absolute deadline in `body.rs`);
//! - the connection starts with the HTTP/2 preface: HTTP/2 multiplexes streams these
//!   deadlines cannot follow, so it is not served (and not offered by ALPN, `handshake.rs`).
//!
//! The time between requests on a keep-alive connection stays governed by the idle timeout;
//! WebSockets are passed through once upgraded.
//!
//! It also caps how many connections are open at once, in total and per client address, so a
//! flood of connections cannot use up file descriptors or memory: an excess connection is
//! closed right after accept, before any TLS work is spent on it.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers). hyper alone buffers up to ~400 KB per
/// connection before answering 431; this keeps a flood of huge heads to a fraction of that.
/// Browsers send a few KB; nginx's default is 32 KB.
pub const MAX_HEAD: usize = 64 * 1024;
const BODY_GRACE: Duration = Duration::from_secs(30);
/// Bytes per extra second a body may take: 8 KiB/s is slower than any real upload link.
const BODY_RATE: u64 = 8 * 1024;
/// No request body (streamed uploads included) may take longer than this, whatever its rate.
pub const BODY_MAX: Duration = Duration::from_secs(600);

/// How many connections may be open: shared by every listener of one server.
pub struct ConnLimits {
    max: usize,
    /// 0: no per-address cap.
    per_address: usize,
    open: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
    refused: AtomicUsize,
}

impl ConnLimits {
    pub fn new(max: usize, per_address: usize) -> Arc<ConnLimits> {
        Arc::new(ConnLimits {
            max: max.max(1),
            per_address,
            open: AtomicUsize::new(0),
            by_address: Mutex::new(HashMap::new()),
            refused: AtomicUsize::new(0),
        })
    }

    /// Connections open now (for /healthz and tests).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections refused since start because a cap was reached.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn admit(self: &Arc<Self>, remote: &RemoteAddr) -> Option<Permit> {
        if self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_err()
        {
            self.refuse("limits.max_connections");
            return None;
        }
        let mut permit = Permit {
            limits: self.clone(),
            key: None,
        };
        if self.per_address > 0
            && let Some(ip) = remote.as_socket_addr().map(|a| bucket(a.ip()))
        {
            let mut map = self
                .by_address
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = map.entry(ip).or_insert(0);
            if *n >= self.per_address {
                drop(map);
                drop(permit);
                self.refuse("limits.max_connections_per_address");
                return None;
            }
            *n += 1;
            permit.key = Some(ip);
        }
        Some(permit)
    }

    fn refuse(&self, key: &str) {
        // One line per 1,000 refusals: a flood must not flood the log too.
        if self
            .refused
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(1000)
        {
            tracing::warn!("connection refused: {key} reached (the flood is logged once per 1000)");
        }
    }
}

/// IPv6 clients get a whole /64 each, so one address per connection counts as one client.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
        v4 => v4,
    }
}

/// One admitted connection; the counts go down when the connection is dropped (after a
/// WebSocket upgrade too, since the upgraded stream still owns it).
pub struct Permit {
    limits: Arc<ConnLimits>,
    key: Option<IpAddr>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(ip) = self.key {
            let mut map = self
                .limits
                .by_address
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
        self.limits.open.fetch_sub(1, Ordering::AcqRel);
    }
}

pub struct Deadlines<A> {
    inner: A,
    limits: Arc<ConnLimits>,
}

impl<A> Deadlines<A> {
    pub fn new(inner: A, limits: Arc<ConnLimits>) -> Deadlines<A> {
        Deadlines { inner, limits }
    }
}

impl<A: Acceptor> Acceptor for Deadlines<A> {
    type Io = Guarded<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        loop {
            let (io, local, remote, scheme) = self.inner.accept().await?;
            // Over a cap the socket is dropped unread: closing it is the cheapest answer.
            if let Some(permit) = self.limits.admit(&remote) {
                return Ok((Guarded::new(io, permit), local, remote, scheme));
            }
        }
    }
}

enum Phase {
    /// Reading a request head; `seen` counts the bytes of "\r\n\r\n" matched so far,
    /// `len` the head's bytes.
    Head { seen: u8, started: bool, len: usize },
    /// Reading a request body (or waiting for our answer): `received` bytes so far.
    Body { since: Instant, received: u64 },
    /// WebSocket after a 101: framing we do not follow.
    Through,
}

pub struct Guarded<T> {
    inner: T,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    armed: bool,
    /// The first bytes of the connection, to recognise the HTTP/2 preface.
    first: Option<Vec<u8>>,
    _permit: Permit,
}

impl<T> Guarded<T> {
    fn new(inner: T, permit: Permit) -> Guarded<T> {
        // The first head's clock starts at accept, so a stalled TLS handshake counts too.
        Guarded {
            inner,
            phase: Phase::Head {
                seen: 0,
                started: true,
                len: 0,
            },
            deadline: Box::pin(tokio::time::sleep(HEAD_TIMEOUT)),
            armed: true,
            first: Some(Vec::with_capacity(16)),
            _permit: permit,
        }
    }

    fn arm(&mut self, d: Duration) {
        self.deadline.as_mut().reset(Instant::now() + d);
        self.armed = true;
    }

    /// Follow the bytes the client sent; an error ends the connection.
    fn on_read(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if let Some(first) = &mut self.first {
            first.extend_from_slice(&data[..data.len().min(16 - first.len().min(16))]);
            if first.len() >= 3 {
                if first.starts_with(b"PRI") {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "HTTP/2 is not served",
                    ));
                }
                self.first = None;
            }
        }
        match &mut self.phase {
            Phase::Through => {}
            Phase::Head { seen, started, len } => {
                if !*started {
                    *started = true;
                    self.deadline.as_mut().reset(Instant::now() + HEAD_TIMEOUT);
                    self.armed = true;
                }
                const END: &[u8; 4] = b"\r\n\r\n";
                let mut s = *seen as usize;
                let mut end_at = None;
                for (i, b) in data.iter().enumerate() {
                    if *b == END[s] {
                        s += 1;
                        if s == 4 {
                            end_at = Some(i + 1);
                            break;
                        }
                    } else {
                        s = usize::from(*b == END[0]);
                    }
                }
                *seen = s as u8;
                *len += end_at.unwrap_or(data.len());
                if *len > MAX_HEAD {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the request head is too large",
                    ));
                }
                if let Some(at) = end_at {
                    let rest = (data.len() - at) as u64;
                    self.phase = Phase::Body {
                        since: Instant::now(),
                        received: rest,
                    };
                    self.arm(BODY_GRACE + Duration::from_secs(rest / BODY_RATE));
                }
            }
            Phase::Body { since, received } => {
                *received += data.len() as u64;
                let allowed =
                    (BODY_GRACE + Duration::from_secs(*received / BODY_RATE)).min(BODY_MAX);
                let at = *since + allowed;
                self.deadline.as_mut().reset(at);
                self.armed = true;
            }
        }
        Ok(())
    }

    /// We answered: a 101 hands the connection to a WebSocket; anything else ends the
    /// request, and the next head's clock starts with its first byte.
    fn on_write(&mut self, data: &[u8]) {
        match self.phase {
            Phase::Through => {}
            Phase::Body { .. } | Phase::Head { .. } => {
                if data.starts_with(b"HTTP/1.1 101") {
                    self.phase = Phase::Through;
                    self.armed = false;
                } else if data.starts_with(b"HTTP/1.1 100") {
                    // "100 Continue": the body is still to come.
                } else if matches!(self.phase, Phase::Body { .. }) {
                    self.phase = Phase::Head {
                        seen: 0,
                        started: false,
                        len: 0,
                    };
                    self.armed = false;
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let r = self.on_read(&buf.filled()[before..]);
                Poll::Ready(r)
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if self.armed && self.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent its request too slowly",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            let n = *n;
            self.on_write(&buf[..n]);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &r
            && *n > 0
            && let Some(first) = bufs.iter().find(|b| !b.is_empty())
        {
            self.on_write(first);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
