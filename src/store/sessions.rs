//! Browser sessions. Only the SHA-256 of a session token is stored, so a leaked backup or
//! database file does not hand out live sessions.

use serde::{Deserialize, Serialize};

use super::tables::{MANAGER_SESSIONS, SESSIONS};
use super::{Key, Read, Record, W, codec};
use crate::error::Result;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub manager_id: u64,
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub ip: String,
}

impl Record for Session {
    const NAME: &'static str = "session";
}

fn link_key(manager_id: u64, hash: &[u8]) -> Vec<u8> {
    Key::new().u64(manager_id).bytes(hash).build()
}

pub fn create(w: &W, hash: &[u8], s: &Session) -> Result<()> {
    w.put(SESSIONS, hash, s)?;
    w.put_raw(MANAGER_SESSIONS, &link_key(s.manager_id, hash), &[])
}

pub fn delete(w: &W, hash: &[u8]) -> Result<bool> {
    match w.get::<Session>(SESSIONS, hash)? {
        Some(s) => {
            w.del(MANAGER_SESSIONS, &link_key(s.manager_id, hash))?;
            w.del(SESSIONS, hash)
        }
        None => Ok(false),
    }
}

/// Revoke every session of a manager (password change, disable). Returns the hashes removed.
pub fn delete_for_manager(w: &W, manager_id: u64) -> Result<Vec<Vec<u8>>> {
    let prefix = codec::u64_key(manager_id);
    let links = w.scan(MANAGER_SESSIONS, &prefix, None, false, usize::MAX)?;
    let mut out = Vec::with_capacity(links.len());
    for (k, _) in links {
        let hash = k[8..].to_vec();
        w.del(SESSIONS, &hash)?;
        w.del(MANAGER_SESSIONS, &k)?;
        out.push(hash);
    }
    Ok(out)
}

/// Remove sessions past their expiry; returns how many.
pub fn sweep_expired(w: &W, now_ms: i64) -> Result<usize> {
    let all = w.scan(SESSIONS, &[], None, false, usize::MAX)?;
    let mut n = 0;
    for (hash, v) in all {
        let s: Session = codec::decode(&v)?;
        if s.expires_ms <= now_ms {
            delete(w, &hash)?;
            n += 1;
        }
    }
    Ok(n)
}

pub fn get<T: Read>(r: &T, hash: &[u8]) -> Result<Option<Session>> {
    r.get(SESSIONS, hash)
}
