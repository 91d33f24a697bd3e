//! TLS material: the configured PEM pair, or a self-signed ECDSA P-256 certificate generated
//! at first start and kept in the data directory so browsers see the same certificate (and
//! fingerprint) after every restart.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;
use crate::error::{Error, Result};

/// Validity of a generated certificate; 397 days is the longest browsers accept.
const VALID_DAYS: i64 = 397;
/// A generated certificate is replaced this long before it expires.
const RENEW_DAYS: i64 = 30;

#[derive(Clone)]
pub struct TlsMaterial {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// SHA-256 of the leaf certificate (DER), colon-separated upper-case hex.
    pub fingerprint: String,
    pub source: String,
}

pub fn fingerprint(der: &[u8]) -> String {
    crate::accounts::sha256(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parse and check a PEM pair: at least one certificate and one private key.
pub fn check_pair(cert_pem: &[u8], key_pem: &[u8], what: &str) -> Result<String> {
    let certs: Vec<CertificateDer> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Tls(format!("{what}: certificate PEM is invalid: {e}")))?;
    let first = certs
        .first()
        .ok_or_else(|| Error::Tls(format!("{what}: no certificate in the PEM file")))?;
    PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::Tls(format!("{what}: private key PEM is invalid: {e}")))?;
    Ok(fingerprint(first.as_ref()))
}

/// Load the configured pair, or the self-signed one (generating it when missing or old).
pub fn load(config: &Config) -> Result<TlsMaterial> {
    match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => load_files(cert, key),
        _ => self_signed(&config.server.data_dir.join("tls"), &hostnames(config)),
    }
}

pub fn load_files(cert: &Path, key: &Path) -> Result<TlsMaterial> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| Error::Tls(format!("cannot read {}: {e}", p.display())))
    };
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    let what = format!("{} / {}", cert.display(), key.display());
    let fingerprint = check_pair(&cert_pem, &key_pem, &what)?;
    Ok(TlsMaterial {
        cert_pem,
        key_pem,
        fingerprint,
        source: what,
    })
}

/// Names the self-signed certificate is valid for: loopback, this host's name and the
/// public URL's host.
fn hostnames(config: &Config) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            names.push(h.to_string());
        }
    }
    if let Some(url) = &config.server.public_url {
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or("")
            .split(['/', '?'])
            .next()
            .unwrap_or("");
        let host = if host.starts_with('[') {
            host.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .to_string()
        } else {
            host.split(':').next().unwrap_or("").to_string()
        };
        if !host.is_empty() {
            names.push(host);
        }
    }
    if let Ok(ip) = config.listen_addr().map(|a| a.ip())
        && !ip.is_unspecified()
    {
        names.push(ip.to_string());
    }
    names.sort();
    names.dedup();
    names
}

fn self_signed(dir: &Path, names: &[String]) -> Result<TlsMaterial> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let meta_path = dir.join("cert.meta");
    let now = time::OffsetDateTime::now_utc();
    let wanted = names.join(",");
    if let (Ok(cert_pem), Ok(key_pem), Ok(meta)) = (
        std::fs::read(&cert_path),
        std::fs::read(&key_path),
        std::fs::read_to_string(&meta_path),
    ) {
        // cert.meta: "<not_after unix seconds>\n<names>"; a certificate for other names or
        // close to expiry is replaced.
        let mut lines = meta.lines();
        let not_after = lines.next().and_then(|l| l.trim().parse::<i64>().ok());
        let same_names = lines.next().map(str::trim) == Some(wanted.as_str());
        let fresh = not_after.is_some_and(|t| t - now.unix_timestamp() > RENEW_DAYS * 86_400);
        if fresh
            && same_names
            && let Ok(fp) = check_pair(&cert_pem, &key_pem, &cert_path.display().to_string())
        {
            return Ok(TlsMaterial {
                cert_pem,
                key_pem,
                fingerprint: fp,
                source: format!("self-signed {}", cert_path.display()),
            });
        }
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .map_err(|e| Error::Tls(format!("certificate names {names:?}: {e}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Parley self-signed");
    params.not_before = now - time::Duration::days(1);
    let not_after = now + time::Duration::days(VALID_DAYS);
    params.not_after = not_after;
    let key = rcgen::KeyPair::generate()
        .map_err(|e| Error::Tls(format!("cannot generate a key: {e}")))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| Error::Tls(format!("cannot sign the certificate: {e}")))?;
    let cert_pem = cert.pem().into_bytes();
    let key_pem = key.serialize_pem().into_bytes();
    write_atomic(&key_path, &key_pem, 0o600)?;
    // The certificate is public, but everything in the data directory is private alike.
    write_atomic(&cert_path, &cert_pem, 0o600)?;
    write_atomic(
        &meta_path,
        format!("{}\n{wanted}\n", not_after.unix_timestamp()).as_bytes(),
        0o600,
    )?;
    Ok(TlsMaterial {
        fingerprint: fingerprint(cert.der().as_ref()),
        cert_pem,
        key_pem,
        source: format!("self-signed {} (new)", cert_path.display()),
    })
}

/// Write to a temporary name, sync, then rename, so a crash never leaves half a file.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    // A leftover temporary file keeps its old mode; `mode` only applies to a new one.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
        .map_err(|e| Error::io(format!("cannot set the mode of {}", tmp.display()), e))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_reused_and_renewed_for_new_names() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let a = self_signed(dir.path(), &names).unwrap();
        let b = self_signed(dir.path(), &names).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_eq!(a.fingerprint.len(), 32 * 3 - 1);
        let c = self_signed(dir.path(), &["inbox.example.com".to_string()]).unwrap();
        assert_ne!(a.fingerprint, c.fingerprint);
        let mode = std::fs::metadata(dir.path().join("key.pem"))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap();
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn bad_pem_is_named() {
        let e = check_pair(b"nope", b"nope", "x.pem")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.pem"), "{e}");
    }
}
