//! Attachments on disk under `<data_dir>/blobs/ab/cdef…`, named by SHA-256 so the same file is
//! stored once. Files are written to a temporary name, synced and renamed: a crash never leaves
//! a half-written blob under its final name.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::domain::inbox::{Attachment, Blob};
use crate::error::{Error, Result};
use crate::store::{self, Store, inbox as db};

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

#[derive(Clone)]
pub struct Blobs {
    dir: PathBuf,
    pub max_bytes: u64,
}

impl Blobs {
    pub fn new(data_dir: &Path, max_bytes: u64) -> Blobs {
        Blobs {
            dir: data_dir.join("blobs"),
            max_bytes,
        }
    }

    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        valid.then(|| self.dir.join(&sha256[..2]).join(&sha256[2..]))
    }

    /// Store `chunks` (a body stream) after checking type and size; records metadata in redb.
    pub async fn put_stream<S, E>(
        &self,
        store: &Store,
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
            // Content-addressed: a complete copy already there is the same file. Keeping it
            // (and dropping the new one) never puts a stored attachment at risk.
            if tokio::fs::metadata(&final_path)
                .await
                .is_ok_and(|m| m.len() == size)
            {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Ok((sha, size));
            }
            if let Some(parent) = final_path.parent() {
                private_dir(parent)
                    .await
                    .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
            }
            tokio::fs::rename(&tmp, &final_path)
                .await
                .map_err(|e| Error::io("cannot store a blob file", e))?;
            Ok((sha, size))
        }
        .await;
        // Whatever failed (a full disk included), the temporary file goes: nothing partial
        // stays behind, and the space is free for the retry.
        let (sha, size) = match result {
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
        store.write(move |w| db::put_blob(w, &s, &meta)).await?;
        Ok(Attachment {
            sha256: sha,
            name: clean_name(name),
            mime: mime.to_string(),
            size,
        })
    }

    pub async fn put_bytes(
        &self,
        store: &Store,
        mime: &str,
        name: &str,
        data: Vec<u8>,
    ) -> Result<Attachment> {
        let stream = futures_util::stream::iter(std::iter::once(Ok::<_, std::io::Error>(
            bytes::Bytes::from(data),
        )));
        self.put_stream(store, mime, name, stream).await
    }
}
