//! Deadlines for slow clients. poem's idle timeout is reset by every byte, so a client that
//! dribbles a request head or body one byte at a time would hold its connection (and a task)
//! forever. This wraps each accepted connection, above TLS, and closes it when:
//! - a request head (TLS handshake included, for the first one) is not complete within
//!   `HEAD_TIMEOUT` of its first byte;
//! - a request body arrives slower than `BODY_GRACE` plus one second per `BODY_RATE` bytes.
//!
//! The time between requests on a keep-alive connection stays governed by the idle timeout;
//! WebSockets and HTTP/2 connections are passed through once recognised.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_GRACE: Duration = Duration::from_secs(30);
/// Bytes per extra second a body may take: 8 KiB/s is slower than any real upload link.
const BODY_RATE: u64 = 8 * 1024;

pub struct Deadlines<A>(pub A);

impl<A: Acceptor> Acceptor for Deadlines<A> {
    type Io = Guarded<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.0.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let (io, local, remote, scheme) = self.0.accept().await?;
        Ok((Guarded::new(io), local, remote, scheme))
    }
}

enum Phase {
    /// Reading a request head; `seen` counts the bytes of "\r\n\r\n" matched so far.
    Head { seen: u8, started: bool },
    /// Reading a request body (or waiting for our answer): `received` bytes so far.
    Body { since: Instant, received: u64 },
    /// WebSocket after a 101, or HTTP/2: framing we do not follow.
    Through,
}

pub struct Guarded<T> {
    inner: T,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    armed: bool,
    /// The first bytes of the connection, to recognise the HTTP/2 preface.
    first: Option<Vec<u8>>,
}

impl<T> Guarded<T> {
    fn new(inner: T) -> Guarded<T> {
        // The first head's clock starts at accept, so a stalled TLS handshake counts too.
        Guarded {
            inner,
            phase: Phase::Head {
                seen: 0,
                started: true,
            },
            deadline: Box::pin(tokio::time::sleep(HEAD_TIMEOUT)),
            armed: true,
            first: Some(Vec::with_capacity(16)),
        }
    }

    fn arm(&mut self, d: Duration) {
        self.deadline.as_mut().reset(Instant::now() + d);
        self.armed = true;
    }

    /// Follow the bytes the client sent.
    fn on_read(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if let Some(first) = &mut self.first {
            first.extend_from_slice(&data[..data.len().min(16 - first.len().min(16))]);
            if first.len() >= 3 {
                if first.starts_with(b"PRI") {
                    self.phase = Phase::Through;
                    self.armed = false;
                }
                self.first = None;
            }
        }
        match &mut self.phase {
            Phase::Through => {}
            Phase::Head { seen, started } => {
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
                let allowed = BODY_GRACE + Duration::from_secs(*received / BODY_RATE);
                let at = *since + allowed;
                self.deadline.as_mut().reset(at);
                self.armed = true;
            }
        }
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
                self.on_read(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
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
