//! Downloading a file from a URL someone else gave us (an attachment URL in a webhook). The
//! host must resolve only to public addresses, and the connection is pinned to the address
//! we checked, so neither a private URL nor a DNS rebind can reach inside the network.

use std::net::{IpAddr, SocketAddr};

use futures_util::StreamExt;

use crate::blobs::Blobs;
use crate::domain::inbox::Attachment;
use crate::error::{Error, Result};
use crate::store::Store;

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
                || o[0] >= 224)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80) // link local
        }
    }
}

pub async fn download(
    _shared: &reqwest::Client,
    url: &str,
    blobs: &Blobs,
    store: &Store,
    mime: &str,
    name: &str,
) -> Result<Attachment> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Error::BadRequest(format!("url: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(Error::BadRequest("url must be http(s)".into()));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| Error::BadRequest("url has no host".into()))?
        .trim_matches(['[', ']'])
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| Error::BadRequest(format!("url host {host:?} does not resolve: {e}")))?
        .collect();
    let Some(addr) = addrs.first().copied() else {
        return Err(Error::BadRequest(format!(
            "url host {host:?} does not resolve"
        )));
    };
    if addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(Error::BadRequest(format!(
            "url host {host:?} resolves to a private address; refusing to fetch it"
        )));
    }
    let client = super::http_client_builder()?
        .resolve(&host, addr)
        .build()
        .map_err(|e| Error::Internal(format!("http client: {e}")))?;
    let r = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| Error::BadRequest(format!("url could not be fetched: {e}")))?;
    if !r.status().is_success() {
        return Err(Error::BadRequest(format!(
            "url answered HTTP {}",
            r.status().as_u16()
        )));
    }
    let stream = r.bytes_stream().map(|c| c.map_err(|e| e.to_string()));
    blobs.put_stream(store, mime, name, Box::pin(stream)).await
}

#[cfg(test)]
mod tests {
    use super::is_public;

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
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
