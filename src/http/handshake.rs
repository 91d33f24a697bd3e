//! The HTTPS acceptor: TLS with HTTP/1.1 only, and a cap on handshakes doing their crypto at
//! once.
//!
//! - poem's own acceptor offers HTTP/2 by ALPN, and HTTP/2 multiplexes streams that the
//!   connection guard (`guard.rs`) cannot see: no per-stream head or body deadline, and many
//!   bodies in flight on one admitted connection. Parley's clients (browsers, platforms'
//!   webhooks, integrations) all speak HTTP/1.1, so HTTP/2 is not offered, and `guard.rs`
//!   closes a connection that starts with the HTTP/2 preface anyway.
//! - A handshake's expensive part (key exchange and signature) runs when the ClientHello is
//!   complete. A flood of handshakes would put thousands of such tasks in the runtime's queue
//!   at once, in front of signed-in users' requests. Reading the ClientHello is cheap and
//!   needs no slot; the crypto waits for one of `HANDSHAKE_SLOTS`. A handshake still waiting
//!   is closed by the guard's head deadline like any other stalled connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::server::TlsStream;

use crate::error::{Error, Result};

/// Handshakes doing their crypto at once: enough to keep both cores of a small server busy,
/// few enough that a signed-in user's request never queues behind a storm of them.
pub const HANDSHAKE_SLOTS: usize = 4;

/// The server's TLS settings for a PEM certificate chain and key.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Tls(format!("certificate PEM is invalid: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::Tls(format!("private key PEM is invalid: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Tls(format!("the certificate and key do not work together: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Wraps a TCP acceptor; the settings come from a watch so SIGHUP can swap the certificate
/// for new connections.
pub struct TlsAcceptor<A> {
    inner: A,
    config: watch::Receiver<Arc<ServerConfig>>,
    slots: Arc<Semaphore>,
}

impl<A> TlsAcceptor<A> {
    pub fn new(inner: A, config: watch::Receiver<Arc<ServerConfig>>) -> TlsAcceptor<A> {
        TlsAcceptor {
            inner,
            config,
            slots: Arc::new(Semaphore::new(HANDSHAKE_SLOTS)),
        }
    }
}

impl<A> Acceptor for TlsAcceptor<A>
where
    A: Acceptor,
    A::Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    type Io = Tls<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        let (io, local, remote, _) = self.inner.accept().await?;
        let config = self.config.borrow().clone();
        // The handshake runs in the connection's own task, on its first read or write, so
        // the accept loop never waits for a client.
        let tls = Tls::Handshaking(Box::pin(handshake(io, config, self.slots.clone())));
        Ok((tls, local, remote, poem::http::uri::Scheme::HTTPS))
    }
}

async fn handshake<IO>(
    io: IO,
    config: Arc<ServerConfig>,
    slots: Arc<Semaphore>,
) -> io::Result<TlsStream<IO>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let start =
        tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await?;
    let slot = slots
        .acquire_owned()
        .await
        .map_err(|_| io::Error::other("the TLS acceptor is closed"))?;
    // `into_stream` processes the ClientHello (key exchange, signature) synchronously; what
    // follows is waiting for the client, which needs no slot.
    let accept = start.into_stream(config);
    drop(slot);
    accept.await
}

type Handshake<IO> = Pin<Box<dyn Future<Output = io::Result<TlsStream<IO>>> + Send>>;

pub enum Tls<IO> {
    Handshaking(Handshake<IO>),
    Open(Box<TlsStream<IO>>),
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Tls<IO> {
    /// Drive the handshake; Ready(Ok) once the stream is open.
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut TlsStream<IO>>> {
        if let Tls::Handshaking(h) = self {
            match h.as_mut().poll(cx) {
                Poll::Ready(Ok(s)) => *self = Tls::Open(Box::new(s)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        match self {
            Tls::Open(s) => Poll::Ready(Ok(s.as_mut())),
            Tls::Handshaking(_) => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Tls<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().poll_open(cx) {
            Poll::Ready(Ok(s)) => Pin::new(s).poll_read(cx, buf),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Tls<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().poll_open(cx) {
            Poll::Ready(Ok(s)) => Pin::new(s).poll_write(cx, buf),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().poll_open(cx) {
            Poll::Ready(Ok(s)) => Pin::new(s).poll_write_vectored(cx, bufs),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Tls::Open(s) => s.is_write_vectored(),
            Tls::Handshaking(_) => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Tls::Open(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Tls::Handshaking(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Tls::Open(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            // Nothing was said yet: dropping the socket is the whole goodbye.
            Tls::Handshaking(_) => Poll::Ready(Ok(())),
        }
    }
}
