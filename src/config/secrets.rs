//! Secrets and trusted addresses in the config: what counts as a weak or published secret
//! (so a fresh install accepts nothing until an admin sets real ones), and CIDR ranges for
//! `server.trusted_proxies`.

use std::net::IpAddr;

use super::{ChannelKindConfig, Config};
use crate::error::{Error, Result};

impl Config {
    /// Every credential that lets someone in (or speaks for us to a platform) must be the
    /// admin's own: a published placeholder, an empty or a short secret would let anyone who
    /// read the repository or guessed post messages as a client.
    pub(super) fn check_secrets(&self) -> Result<()> {
        for (i, ch) in self.channels.iter().enumerate() {
            let mut secrets: Vec<(&str, &str)> = Vec::new();
            match &ch.kind {
                ChannelKindConfig::Telegram {
                    token,
                    webhook_secret,
                    mode,
                    ..
                } => {
                    secrets.push(("token", token));
                    // Polling bots have no webhook route, so the secret is optional there;
                    // when it is given it must still be a real one.
                    match webhook_secret {
                        Some(s) => secrets.push(("webhook_secret", s)),
                        None if mode == "webhook" => secrets.push(("webhook_secret", "")),
                        None => {}
                    }
                }
                ChannelKindConfig::Whatsapp {
                    access_token,
                    app_secret,
                    verify_token,
                    ..
                } => {
                    secrets.push(("access_token", access_token));
                    secrets.push(("app_secret", app_secret));
                    secrets.push(("verify_token", verify_token));
                }
                ChannelKindConfig::Viber { token, .. } => secrets.push(("token", token)),
                ChannelKindConfig::Widget { .. } => {}
                ChannelKindConfig::Api {
                    token,
                    secret,
                    callback_url,
                } => {
                    secrets.push(("token", token));
                    match secret {
                        Some(s) => secrets.push(("secret", s)),
                        None if callback_url.is_some() => secrets.push(("secret", "")),
                        None => {}
                    }
                }
            }
            for (key, value) in secrets {
                if let Some(why) = weak_secret(value) {
                    return Err(Error::Config(format!(
                        "channels[{i}].{key} (channel {:?}): {why}",
                        ch.id
                    )));
                }
            }
        }
        for (i, a) in self.assistants.iter().enumerate() {
            // Keyless local servers are fine; a key that is given must be a real one.
            if let Some(k) = &a.api_key
                && (k.is_empty() || is_placeholder(k))
            {
                return Err(Error::Config(format!(
                    "assistants[{i}].api_key (assistant {:?}): {}",
                    a.id,
                    if k.is_empty() {
                        "is empty; remove the key for a server that needs none"
                    } else {
                        "is the placeholder from config.example.toml; put in your provider's key"
                    }
                )));
            }
        }
        Ok(())
    }
}

/// An address or CIDR range (`10.0.0.0/8`, `::1`), as (network address, prefix length).
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match s.trim().split_once('/') {
        Some((a, l)) => (a.parse::<IpAddr>().ok()?, Some(l.parse::<u8>().ok()?)),
        None => (s.trim().parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((addr, len))
}

/// Whether `ip` lies in the range (IPv4-mapped IPv6 addresses count as IPv4).
pub fn in_cidr(ip: IpAddr, (net, len): (IpAddr, u8)) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The starter configuration `parley init` and install.sh write.
pub const EXAMPLE_CONFIG: &str = include_str!("../../config.example.toml");

/// Shortest secret accepted: 16 characters, as from `openssl rand -hex 8`; platforms' own
/// tokens (Telegram, Meta, Viber) are all longer.
pub const MIN_SECRET_LEN: usize = 16;

const SECRET_KEYS: [&str; 7] = [
    "token",
    "webhook_secret",
    "access_token",
    "app_secret",
    "verify_token",
    "secret",
    "api_key",
];

/// Why `value` cannot be used as a secret, if it cannot.
pub(super) fn weak_secret(value: &str) -> Option<String> {
    if value.trim().is_empty() {
        Some(
            "is empty; set a random value of at least 16 characters (e.g. openssl rand -hex 32)"
                .into(),
        )
    } else if is_placeholder(value) {
        Some("is the placeholder from config.example.toml, which anyone can read; set your own random value (e.g. openssl rand -hex 32)".into())
    } else if value.chars().count() < MIN_SECRET_LEN {
        Some(format!(
            "is {} characters; use at least {MIN_SECRET_LEN} (e.g. openssl rand -hex 32)",
            value.chars().count()
        ))
    } else {
        None
    }
}

/// A secret value published in config.example.toml (commented or not), or one that says it
/// is meant to be replaced.
pub(super) fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    let upper = v.to_ascii_uppercase();
    if upper.contains("REPLACE") || upper.contains("CHANGE-ME") || upper.contains("CHANGEME") {
        return true;
    }
    EXAMPLE_CONFIG.lines().any(|line| {
        let line = line.trim_start_matches('#').trim();
        let Some((key, rest)) = line.split_once('=') else {
            return false;
        };
        SECRET_KEYS.contains(&key.trim())
            && rest
                .trim()
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                == Some(v)
    })
}
