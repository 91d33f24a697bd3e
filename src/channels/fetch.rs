//! Calling a URL someone else gave us: downloading an attachment URL from a webhook, or a
//! funnel's webhook step. The host must resolve only to public addresses (or ones the admin
//! allowed), and the connection is pinned to the address we checked, so neither a private
//! URL nor a DNS rebind can reach inside the network.

use std::net::{IpAddr, SocketAddr};

use futures_util::StreamExt;

use crate::domain::inbox::Attachment;
use crate::error::{Error, Result};
use crate::inbox::blobs::Blobs;

/// Whether `ip` is a globally routable unicast address (IANA special-purpose registries):
/// anything private, local, reserved, or an IPv6 form wrapping such an IPv4 address is not.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking, 198.18/15
                || o[0] >= 224) // multicast and reserved
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                let [a, b] = hi.to_be_bytes();
                let [c, d] = lo.to_be_bytes();
                is_public(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)))
            };
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            match s {
                // NAT64 (64:ff9b::/96) reaches the IPv4 address it carries.
                [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => embedded(hi, lo),
                // 6to4 (2002::/16) carries an IPv4 address in bits 16..48.
                [0x2002, hi, lo, ..] => embedded(hi, lo),
                // IPv4-compatible (deprecated), ::1 and :: included.
                [0, 0, 0, 0, 0, 0, _, _] => false,
                _ => {
                    !(v6.is_multicast()
                        || (s[0] & 0xfe00) == 0xfc00 // unique local
                        || (s[0] & 0xffc0) == 0xfe80 // link local
                        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
                        || (s[0] == 0x64 && s[1] == 0xff9b) // local-use NAT64, 64:ff9b:1::/48
                        || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // discard-only
                        || (s[0] == 0x2001 && s[1] < 0x200) // IETF assignments (Teredo, …)
                        || (s[0] == 0x2001 && s[1] == 0xdb8)) // documentation
                }
            }
        }
    }
}

/// Fetch `url` (vetted, pinned, no redirects) and keep the file it answers with.
pub async fn download(url: &str, blobs: &Blobs, mime: &str, name: &str) -> Result<Attachment> {
    let (parsed, host, addr) = vet(url, &[]).await?;
    let r = get_pinned(parsed, &host, addr).await?;
    let stream = r.bytes_stream().map(|c| c.map_err(|e| e.to_string()));
    blobs.put_stream(mime, name, Box::pin(stream)).await
}

/// POST `body` (JSON) to `url`, vetted and pinned like a download, no redirects; `allow`
/// lists the private ranges the admin lets through. Returns the HTTP status; an unreachable
/// or refused URL is an error naming it.
pub async fn post_json(
    url: &str,
    allow: &[(IpAddr, u8)],
    headers: &[(&str, String)],
    body: Vec<u8>,
    timeout: std::time::Duration,
) -> Result<u16> {
    let (parsed, host, addr) = vet(url, allow).await?;
    let shown: String = url.chars().take(200).collect();
    let client = super::http_client_builder()?
        .resolve(&host, addr)
        .timeout(timeout)
        .build()
        .map_err(|e| Error::Internal(format!("http client: {e}")))?;
    let mut req = client
        .post(parsed)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req
        .body(body)
        .send()
        .await
        .map_err(|e| Error::BadRequest(format!("url {shown:?} could not be reached: {e}")))?;
    Ok(r.status().as_u16())
}

/// The URL parsed, its host, and the one public (or allowed) address to connect to.
/// Anything else is a 400 that names the URL (as given, shortened).
async fn vet(url: &str, allow: &[(IpAddr, u8)]) -> Result<(reqwest::Url, String, SocketAddr)> {
    let shown: String = url.chars().take(200).collect();
    let bad = |m: String| Error::BadRequest(format!("url {shown:?} {m}"));
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(format!("is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(bad("must be http(s)".into()));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| bad("has no host".into()))?
        .trim_matches(['[', ']'])
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| bad(format!("does not resolve: {e}")))?
        .collect();
    let Some(addr) = addrs.first().copied() else {
        return Err(bad("does not resolve".into()));
    };
    let allowed =
        |ip: IpAddr| is_public(ip) || allow.iter().any(|&r| crate::config::in_cidr(ip, r));
    if addrs.iter().any(|a| !allowed(a.ip())) {
        return Err(bad(format!(
            "(host {host:?}) resolves to a private address; refusing to fetch it"
        )));
    }
    Ok((parsed, host, addr))
}

/// GET `url` over a connection to `addr` only: no DNS of its own (so no rebinding between
/// the check and the connection) and no redirects (which could point inside). Anything but
/// 2xx is a 400.
async fn get_pinned(url: reqwest::Url, host: &str, addr: SocketAddr) -> Result<reqwest::Response> {
    let shown: String = url.as_str().chars().take(200).collect();
    let client = super::http_client_builder()?
        .resolve(host, addr)
        .build()
        .map_err(|e| Error::Internal(format!("http client: {e}")))?;
    let r = client
        .get(url)
        .send()
        .await
        .map_err(|e| Error::BadRequest(format!("url {shown:?} could not be fetched: {e}")))?;
    if !r.status().is_success() {
        return Err(Error::BadRequest(format!(
            "url {shown:?} answered HTTP {}",
            r.status().as_u16()
        )));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::{get_pinned, is_public};

    /// A server on loopback answering every connection with `reply`; counts connections.
    async fn serve(reply: String) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                h.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply.as_bytes()).await;
            }
        });
        (addr, hits)
    }

    #[tokio::test]
    async fn a_redirect_is_refused_not_followed() {
        crate::install_crypto_provider();
        let (inside, inside_hits) =
            serve("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecret".into()).await;
        let (outside, outside_hits) = serve(format!(
            "HTTP/1.1 302 Found\r\nlocation: http://{inside}/secret\r\ncontent-length: 0\r\n\r\n"
        ))
        .await;
        // The vetted first hop stands in for a public host (pinned to the test server).
        let url = reqwest::Url::parse("http://files.example.com/report.pdf").unwrap();
        let err = get_pinned(url, "files.example.com", outside)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("answered HTTP 302"), "{err}");
        assert!(
            err.to_string().contains("files.example.com/report.pdf"),
            "{err}"
        );
        assert_eq!(outside_hits.load(Ordering::SeqCst), 1);
        assert_eq!(
            inside_hits.load(Ordering::SeqCst),
            0,
            "the redirect target was fetched"
        );
    }

    #[test]
    fn private_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.0.8",
            "240.0.0.1",
            "::",
            "::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:a00:1::",
            "2001::1",
            "2001:db8::1",
            "fec0::1",
            "100::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "198.20.0.1",
            "2606:4700::1111",
            "2a00:1450::1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
