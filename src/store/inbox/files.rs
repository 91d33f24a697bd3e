//! Stored files: one row per content hash, the claims (uploads) on it, and whether a message keeps it.

use crate::domain::inbox::*;
use crate::error::Result;
use crate::store::tables::*;
use crate::store::{Key, Read, W, codec};

pub fn put_blob(w: &W, sha256: &str, b: &Blob) -> Result<()> {
    w.put(BLOBS, &Key::new().str(sha256).build(), b)
}

/// The blob is in a message (or came from a channel): never swept.
pub fn keep_blob(w: &W, sha256: &str) -> Result<()> {
    w.put_raw(KEPT_BLOBS, &Key::new().str(sha256).build(), &[])
}

pub fn blob_kept<T: Read>(r: &T, sha256: &str) -> Result<bool> {
    r.exists(KEPT_BLOBS, &Key::new().str(sha256).build())
}

pub fn delete_blob(w: &W, sha256: &str) -> Result<bool> {
    w.del(BLOBS, &Key::new().str(sha256).build())
}

fn upload_key(sha256: &str, owner: &str) -> Vec<u8> {
    Key::new().str(sha256).str(owner).build()
}

pub fn upload<T: Read>(r: &T, sha256: &str, owner: &str) -> Result<Option<Upload>> {
    r.get(UPLOADS, &upload_key(sha256, owner))
}

pub fn put_upload(w: &W, sha256: &str, owner: &str, u: &Upload) -> Result<()> {
    w.put(UPLOADS, &upload_key(sha256, owner), u)
}

pub fn delete_upload(w: &W, sha256: &str, owner: &str) -> Result<bool> {
    w.del(UPLOADS, &upload_key(sha256, owner))
}

/// Every claim on the blob (at most 100).
pub fn uploads_of<T: Read>(r: &T, sha256: &str) -> Result<Vec<Upload>> {
    r.values(UPLOADS, &Key::new().str(sha256).build(), false, 100)
}

/// Whether anyone holds a claim on the blob.
pub fn blob_claimed<T: Read>(r: &T, sha256: &str) -> Result<bool> {
    Ok(!r
        .scan(UPLOADS, &Key::new().str(sha256).build(), None, false, 1)?
        .is_empty())
}

/// Up to `limit` claims after `after` (a previous page's last key): (key, sha256, owner, upload).
#[allow(clippy::type_complexity)]
pub fn uploads_page<T: Read>(
    r: &T,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, String, String, Upload)>> {
    let mut out = Vec::new();
    for (key, v) in r.scan(UPLOADS, &[], after, false, limit)? {
        let mut parts = key.split(|b| *b == 0);
        let sha = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let owner = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        out.push((key.clone(), sha, owner, codec::decode(&v)?));
    }
    Ok(out)
}
