//! Attachments on disk under `<data_dir>/blobs/ab/cdef…`, named by SHA-256 so the same file is
//! stored once. Files are written to a temporary name, synced and renamed: a crash never leaves
//! a half-written blob under its final name. `Blobs` is the service for files: it holds the
//! store and records each file's metadata and upload claims there itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::sync::RwLock;

use crate::domain::inbox::{Attachment, Blob, Upload};
use crate::error::{Error, Result};
use crate::store::inbox::{self as db, InboxReads};
use crate::store::{self, Store};

/// Types a browser may show inline; everything else is served as a download.
pub fn inline_type(mime: &str) -> bool {
    mime.starts_with("image/") || mime.starts_with("audio/") || mime.starts_with("video/")
}

/// Types we accept. HTML, SVG and scripts are refused: served from our origin they could run
/// code in a manager's session.
pub fn allowed(mime: &str) -> bool {
    const OK: &[&str] = &[
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "audio/ogg",
        "audio/mpeg",
        "audio/mp4",
        "audio/webm",
        "audio/wav",
        "audio/x-wav",
        "audio/aac",
        "video/mp4",
        "video/webm",
        "video/quicktime",
        "application/pdf",
        "application/zip",
        "text/plain",
        "text/csv",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/octet-stream",
    ];
    OK.contains(&mime)
}

/// Check declared type against the first bytes. Media types must carry the matching magic
/// number, so a script uploaded as "image/png" is refused rather than stored.
pub fn check_type(mime: &str, head: &[u8]) -> Result<()> {
    if !allowed(mime) {
        return Err(Error::Unsupported(format!(
            "files of type {mime:?} are not accepted"
        )));
    }
    let starts = |m: &[u8]| head.starts_with(m);
    let at = |off: usize, m: &[u8]| head.get(off..off + m.len()) == Some(m);
    let ok = match mime {
        "image/jpeg" => starts(&[0xFF, 0xD8, 0xFF]),
        "image/png" => starts(b"\x89PNG\r\n\x1a\n"),
        "image/gif" => starts(b"GIF87a") || starts(b"GIF89a"),
        "image/webp" => starts(b"RIFF") && at(8, b"WEBP"),
        "audio/ogg" => starts(b"OggS"),
        "audio/webm" | "video/webm" => starts(&[0x1A, 0x45, 0xDF, 0xA3]),
        "audio/mpeg" => {
            starts(b"ID3") || (head.len() > 1 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0)
        }
        "audio/wav" | "audio/x-wav" => starts(b"RIFF") && at(8, b"WAVE"),
        "audio/mp4" | "video/mp4" | "video/quicktime" => {
            at(4, b"ftyp") || at(4, b"moov") || at(4, b"mdat")
        }
        "application/pdf" => starts(b"%PDF-"),
        "application/zip"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => {
            starts(b"PK\x03\x04")
        }
        "text/plain" | "text/csv" => {
            std::str::from_utf8(&head[..head.len().min(512)]).is_ok() || head.len() >= 512
        }
        _ => true,
    };
    if !ok {
        return Err(Error::Unsupported(format!("the content is not {mime}")));
    }
    Ok(())
}

/// File names as shown to people: no path, no control characters, bounded.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let n: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let n = n.trim().to_string();
    if n.is_empty() || n == "." || n == ".." {
        "file".into()
    } else {
        n
    }
}

async fn private_dir(p: &Path) -> std::io::Result<()> {
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .await
}

/// Who uploaded a file through the API. An upload belongs to its uploader: a visitor may
/// attach only files they uploaded themselves, so the digest of someone else's file is no key
/// to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uploader {
    Visitor(u64),
    Manager(u64),
}

impl Uploader {
    fn key(self) -> String {
        match self {
            Uploader::Visitor(id) => format!("v{id}"),
            Uploader::Manager(id) => format!("m{id}"),
        }
    }
}

#[derive(Clone)]
pub struct Blobs {
    store: Store,
    dir: PathBuf,
    pub max_bytes: u64,
    /// Held (shared) from "is the file there?" to the row that records it, and (exclusive) by
    /// the sweep from its decision to the file's removal: a file that an upload found on disk
    /// and kept is never removed under it.
    files: Arc<RwLock<()>>,
}

impl Blobs {
    pub fn new(store: Store, data_dir: &Path, max_bytes: u64) -> Blobs {
        Blobs {
            store,
            dir: data_dir.join("blobs"),
            max_bytes,
            files: Arc::default(),
        }
    }

    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        valid.then(|| self.dir.join(&sha256[..2]).join(&sha256[2..]))
    }

    /// A stored file's recorded type and size and where it is on disk; NotFound for a digest
    /// that is malformed or unknown.
    pub async fn find(&self, sha256: &str) -> Result<(Blob, PathBuf)> {
        let missing = || Error::NotFound(format!("file {sha256}"));
        let path = self.path(sha256).ok_or_else(missing)?;
        let sha = sha256.to_string();
        let meta = self
            .store
            .query(move |r| r.blob(&sha))
            .await?
            .ok_or_else(missing)?;
        Ok((meta, path))
    }

    /// Store `chunks` (a body stream) after checking type and size; records metadata in redb.
    /// For files a channel received: they are kept (never swept as unattached).
    pub async fn put_stream<S, E>(&self, mime: &str, name: &str, chunks: S) -> Result<Attachment>
    where
        S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.put(None, mime, name, chunks).await
    }

    /// An upload through the API, recorded as `who`'s: only they may attach it (see `attach`),
    /// and it is swept if it is never attached.
    pub async fn put_upload<S, E>(
        &self,
        who: Uploader,
        mime: &str,
        name: &str,
        chunks: S,
    ) -> Result<Attachment>
    where
        S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.put(Some(who), mime, name, chunks).await
    }

    async fn put<S, E>(
        &self,
        who: Option<Uploader>,
        mime: &str,
        name: &str,
        mut chunks: S,
    ) -> Result<Attachment>
    where
        S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        let tmp_dir = self.dir.join("tmp");
        private_dir(&tmp_dir)
            .await
            .map_err(|e| Error::io(format!("cannot create {}", tmp_dir.display()), e))?;
        let tmp = tmp_dir.join(crate::accounts::random_token(12));
        let result = async {
            // Attachments are conversations: 0600 whatever the umask.
            let mut f = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .await
                .map_err(|e| Error::io("cannot create a blob file", e))?;
            let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
            let mut size: u64 = 0;
            let mut head = Vec::with_capacity(512);
            while let Some(chunk) = chunks.next().await {
                let chunk =
                    chunk.map_err(|e| Error::BadRequest(format!("upload interrupted: {e}")))?;
                size += chunk.len() as u64;
                if size > self.max_bytes {
                    return Err(Error::TooLarge(format!(
                        "files are limited to {} bytes",
                        self.max_bytes
                    )));
                }
                if head.len() < 512 {
                    let take = (512 - head.len()).min(chunk.len());
                    head.extend_from_slice(&chunk[..take]);
                }
                ctx.update(&chunk);
                f.write_all(&chunk)
                    .await
                    .map_err(|e| Error::io("cannot write a blob file", e))?;
            }
            if size == 0 {
                return Err(Error::invalid("body", "the file is empty"));
            }
            check_type(mime, &head)?;
            // tokio's File writes in the background and reports a failed write (disk full) only
            // to the next write or flush, not to sync_all: without the flush, an empty file
            // passed for the upload and, renamed, replaced a good copy of the same content.
            f.flush()
                .await
                .map_err(|e| Error::io("cannot write a blob file", e))?;
            f.sync_all()
                .await
                .map_err(|e| Error::io("cannot sync a blob file", e))?;
            let written = f
                .metadata()
                .await
                .map_err(|e| Error::io("cannot check a blob file", e))?
                .len();
            if written != size {
                return Err(Error::Unavailable(format!(
                    "a blob file has {written} of {size} bytes on disk"
                )));
            }
            let sha = hex::encode(ctx.finish().as_ref());
            let final_path = self
                .path(&sha)
                .ok_or_else(|| Error::Internal("bad digest".into()))?;
            let guard = self.files.clone().read_owned().await;
            // Content-addressed: a complete copy already there is the same file. Keeping it
            // (and dropping the new one) never puts a stored attachment at risk.
            if tokio::fs::metadata(&final_path)
                .await
                .is_ok_and(|m| m.len() == size)
            {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Ok((sha, size, false, guard));
            }
            if let Some(parent) = final_path.parent() {
                private_dir(parent)
                    .await
                    .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
            }
            tokio::fs::rename(&tmp, &final_path)
                .await
                .map_err(|e| Error::io("cannot store a blob file", e))?;
            Ok((sha, size, true, guard))
        }
        .await;
        // Whatever failed (a full disk included), the temporary file goes: nothing partial
        // stays behind, and the space is free for the retry.
        let (sha, size, new_file, _guard) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let meta = Blob {
            mime: mime.to_string(),
            size,
            created_ms: store::now_ms(),
        };
        let s = sha.clone();
        let owner = who.map(Uploader::key);
        self.store
            .write(move |w| {
                db::put_blob(w, &s, &meta)?;
                let Some(owner) = &owner else {
                    return db::keep_blob(w, &s);
                };
                // A file already on disk only because of other pending uploads goes with
                // them; one that was there before (in a message, or stored before uploads
                // had owners) is never the sweep's to delete.
                let fresh = new_file
                    || (!db::blob_kept(w, &s)? && db::uploads_of(w, &s)?.iter().any(|u| u.fresh));
                let u = match db::upload(w, &s, owner)? {
                    Some(mut u) => {
                        u.created_ms = meta.created_ms;
                        u.fresh |= fresh;
                        u
                    }
                    None => Upload {
                        created_ms: meta.created_ms,
                        fresh,
                        attached: false,
                    },
                };
                db::put_upload(w, &s, owner, &u)
            })
            .await?;
        Ok(Attachment {
            sha256: sha,
            name: clean_name(name),
            mime: mime.to_string(),
            size,
        })
    }

    /// A file `who` uploaded earlier, to attach to a message: the same "no uploaded file" for
    /// a digest that does not exist and for someone else's, so neither is learned here.
    /// Visitors attach only their own uploads; managers also any file already in a message or
    /// received from a channel (they see every chat) or stored before uploads had owners,
    /// but not another person's pending upload. Marks the file attached and kept, before the
    /// message is stored, so the sweep never takes it in between.
    pub async fn attach(
        &self,
        who: Uploader,
        sha256: &str,
        name: Option<&str>,
    ) -> Result<Attachment> {
        let refused = || Error::invalid("attachments", format!("no uploaded file {sha256:?}"));
        if self.path(sha256).is_none() {
            return Err(refused());
        }
        let (sha, owner) = (sha256.to_string(), who.key());
        let meta = self
            .store
            .write(move |w| {
                let Some(meta) = w.blob(&sha)? else {
                    return Ok(None);
                };
                match db::upload(w, &sha, &owner)? {
                    Some(mut u) => {
                        if !u.attached {
                            u.attached = true;
                            db::put_upload(w, &sha, &owner, &u)?;
                        }
                    }
                    None => {
                        let visible = matches!(who, Uploader::Manager(_))
                            && (db::blob_kept(w, &sha)? || !db::blob_claimed(w, &sha)?);
                        if !visible {
                            return Ok(None);
                        }
                    }
                }
                db::keep_blob(w, &sha)?;
                Ok(Some(meta))
            })
            .await?
            .ok_or_else(refused)?;
        Ok(Attachment {
            sha256: sha256.to_string(),
            name: clean_name(name.unwrap_or("file")),
            mime: meta.mime,
            size: meta.size,
        })
    }

    /// Drop upload claims older than `cutoff_ms`; a file nobody attached, claims or kept,
    /// and that the expired uploads put on disk, is deleted with its row. Returns the number
    /// of files deleted.
    pub async fn sweep(&self, cutoff_ms: i64) -> Result<usize> {
        let mut deleted = 0;
        let mut after: Option<Vec<u8>> = None;
        loop {
            let from = after.clone();
            let page = self
                .store
                .query(move |r| db::uploads_page(r, from.as_deref(), 500))
                .await?;
            let Some((last, ..)) = page.last() else {
                break;
            };
            after = Some(last.clone());
            let expired: Vec<(String, String)> = page
                .into_iter()
                .filter(|(_, _, _, u)| u.created_ms < cutoff_ms)
                .map(|(_, sha, owner, _)| (sha, owner))
                .collect();
            if expired.is_empty() {
                continue;
            }
            let _guard = self.files.write().await;
            let gone = self
                .store
                .write(move |w| {
                    let mut gone = Vec::new();
                    for (sha, owner) in &expired {
                        // Looked at again: an upload may have renewed it since the read.
                        let Some(u) = db::upload(w, sha, owner)? else {
                            continue;
                        };
                        if u.created_ms >= cutoff_ms {
                            continue;
                        }
                        db::delete_upload(w, sha, owner)?;
                        if u.fresh
                            && !db::blob_kept(w, sha)?
                            && !db::blob_claimed(w, sha)?
                            && db::delete_blob(w, sha)?
                        {
                            gone.push(sha.clone());
                        }
                    }
                    Ok(gone)
                })
                .await?;
            for sha in gone {
                if let Some(p) = self.path(&sha) {
                    match tokio::fs::remove_file(&p).await {
                        Ok(()) => deleted += 1,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => tracing::warn!("cannot delete unattached file {sha}: {e}"),
                    }
                }
            }
        }
        Ok(deleted)
    }

    pub async fn put_bytes(&self, mime: &str, name: &str, data: Vec<u8>) -> Result<Attachment> {
        let stream = futures_util::stream::iter(std::iter::once(Ok::<_, std::io::Error>(
            bytes::Bytes::from(data),
        )));
        self.put_stream(mime, name, stream).await
    }
}
