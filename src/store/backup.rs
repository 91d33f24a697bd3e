//! Complete backups while the server runs, and restore.
//!
//! A live redb file is not a backup (pages change under a plain copy), so the store is copied
//! table by table inside one read transaction, a point-in-time snapshot, into a fresh database
//! file. Attachments are content-addressed and never change once written, so the blobs the
//! snapshot refers to are copied from `blobs/` as they are. The generated TLS certificate and
//! key (`tls/`) come along so a restore on another machine presents the same certificate.
//!
//! The backup is one file, written to a temporary name, synced and renamed, mode 0600 (it
//! holds password, session and token hashes, the link-signing key and the TLS key):
//!
//! ```text
//! header  "PRLYBAK1"                          8 bytes
//!         format version                     u32 LE (1)
//! entry   b'F'                               1 byte
//!         path length, path (UTF-8)          u16 LE, bytes ("parley.redb", "blobs/ab/cd…", "tls/key.pem")
//!         data length, data                  u64 LE, bytes
//!         SHA-256 of the data                32 bytes
//! end     b'E'                               1 byte
//!         entries, data bytes                u64 LE, u64 LE
//!         SHA-256 of every byte before it    32 bytes
//! ```
//!
//! Restore reads the whole file into a staging directory, checking every entry's digest and
//! the final one, and changes nothing in the data directory unless all of it is intact.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::digest::{Context, SHA256};
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableHandle,
};

use super::{DB_FILE, Store, lock_dir, migrate, tables};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"PRLYBAK1";
const FORMAT: u32 = 1;
const ENTRY: u8 = b'F';
const END: u8 = b'E';
const CHUNK: usize = 256 << 10;
/// TLS files `tls::load` generates into the data directory.
const TLS_FILES: [&str; 3] = ["cert.pem", "key.pem", "cert.meta"];
/// What a restore replaces in the data directory (and keeps aside when present).
const RESTORED: [&str; 4] = [DB_FILE, "blobs", "tls", "search"];

#[derive(Debug, Default)]
pub struct BackupReport {
    pub tables: usize,
    pub rows: u64,
    /// Size of the store copy.
    pub store_bytes: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    pub tls_files: usize,
    /// Blobs the snapshot refers to that were not on disk (lost before this backup).
    pub missing_blobs: Vec<String>,
    /// Size of the backup file.
    pub bytes: u64,
}

/// Called with (bytes done, bytes in all) as the backup file is written.
pub type Progress<'a> = &'a dyn Fn(u64, u64);

/// Back up the store, attachments and TLS files in `data_dir` to `out`, whether or not a
/// server has it open.
pub fn backup_dir(data_dir: &Path, out: &Path, progress: Progress) -> Result<BackupReport> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        return Err(Error::Usage(format!(
            "no Parley data in {}",
            data_dir.display()
        )));
    }
    // The server opens the file in SingleWriter mode, which lets this process read alongside.
    let ro = Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
        .open_read_only(&path);
    match ro {
        Ok(db) => {
            let tx = db.begin_read()?;
            write_backup(&tx, data_dir, out, progress)
        }
        // A file that needs recovery cannot be read read-only: open it properly (which repairs
        // it), but only when no server holds it.
        Err(_) => {
            let store = Store::open(data_dir)?;
            let tx = store.database()?.begin_read()?;
            write_backup(&tx, data_dir, out, progress)
        }
    }
}

/// Back up an open store (used by the server itself and by tests).
pub fn backup_store(store: &Store, out: &Path, progress: Progress) -> Result<BackupReport> {
    let db = store.database()?;
    let tx = db.begin_read()?;
    write_backup(&tx, store.dir(), out, progress)
}

fn tmp_name(p: &Path, what: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(format!(".{what}-{}", std::process::id()));
    PathBuf::from(s)
}

/// A new file only this user can read, whatever the umask.
fn create_private(path: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))
}

fn create_private_dir(path: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))
}

fn sync_dir(dir: &Path) {
    // Makes the renames durable; not every filesystem supports syncing a directory.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn blob_rel(sha: &str) -> String {
    format!("blobs/{}/{}", &sha[..2], &sha[2..])
}

fn valid_sha(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Copy every table of the snapshot into a new database at `path`; returns the counts and
/// the blob hashes the snapshot refers to.
fn copy_store(src: &ReadTransaction, path: &Path) -> Result<(usize, u64, BTreeSet<String>)> {
    // redb initialises an empty file it is given, so the copy never exists with wider modes.
    drop(create_private(path)?);
    let dst = Database::create(path)?;
    let mut w = dst.begin_write()?;
    w.set_two_phase_commit(true);
    let (mut tables_n, mut rows) = (0usize, 0u64);
    let mut blobs = BTreeSet::new();
    for handle in src.list_tables()? {
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(handle.name());
        let is_blobs = handle.name() == tables::BLOBS.name();
        let from = src.open_table(def)?;
        let mut to = w.open_table(def)?;
        for e in from.iter()? {
            let (k, v) = e?;
            if is_blobs {
                // Keys are the hex digest and a 0 terminator (codec::Key::str).
                let sha = std::str::from_utf8(k.value())
                    .unwrap_or("")
                    .trim_end_matches('\0');
                if valid_sha(sha) {
                    blobs.insert(sha.to_string());
                }
            }
            to.insert(k.value(), v.value())?;
            rows += 1;
        }
        tables_n += 1;
    }
    w.commit()?;
    drop(dst);
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("sync the store copy", e))?;
    Ok((tables_n, rows, blobs))
}

/// The backup stream: every byte goes through the file digest.
struct Out {
    f: BufWriter<File>,
    all: Context,
    written: u64,
}

impl Out {
    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.all.update(b);
        self.written += b.len() as u64;
        self.f
            .write_all(b)
            .map_err(|e| Error::io("cannot write the backup", e))
    }

    /// One entry from the file at `src`, of `len` bytes (checked while copying). Returns
    /// the data's SHA-256.
    fn entry(
        &mut self,
        name: &str,
        src: &Path,
        len: u64,
        done: &mut u64,
        total: u64,
        progress: Progress,
    ) -> Result<String> {
        let mut f = File::open(src).map_err(|e| Error::io(format!("read {}", src.display()), e))?;
        let name_len = u16::try_from(name.len())
            .map_err(|_| Error::Internal(format!("backup entry name too long: {name}")))?;
        self.put(&[ENTRY])?;
        self.put(&name_len.to_le_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&len.to_le_bytes())?;
        let mut ctx = Context::new(&SHA256);
        let mut buf = vec![0u8; CHUNK];
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
            let n = f
                .read(&mut buf[..want])
                .map_err(|e| Error::io(format!("read {}", src.display()), e))?;
            if n == 0 {
                return Err(Error::Internal(format!(
                    "{} shrank while it was being backed up",
                    src.display()
                )));
            }
            ctx.update(&buf[..n]);
            self.put(&buf[..n])?;
            left -= n as u64;
            *done += n as u64;
            progress(*done, total);
        }
        let digest = ctx.finish();
        self.put(digest.as_ref())?;
        Ok(hex::encode(digest.as_ref()))
    }
}

fn write_backup(
    src: &ReadTransaction,
    data_dir: &Path,
    out: &Path,
    progress: Progress,
) -> Result<BackupReport> {
    let tmp = tmp_name(out, "tmp");
    let store_copy = tmp_name(out, "store");
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_file(&store_copy);
    let result = (|| {
        let (tables_n, rows, shas) = copy_store(src, &store_copy)?;
        let mut report = BackupReport {
            tables: tables_n,
            rows,
            ..Default::default()
        };
        report.store_bytes = std::fs::metadata(&store_copy)
            .map_err(|e| Error::io("read the store copy", e))?
            .len();
        // Sizes first, for progress; a blob the snapshot names but the disk lacks is reported.
        let mut files: Vec<(String, PathBuf, u64)> = Vec::with_capacity(shas.len() + 4);
        files.push((DB_FILE.into(), store_copy.clone(), report.store_bytes));
        for sha in &shas {
            let rel = blob_rel(sha);
            let p = data_dir.join(&rel);
            match std::fs::metadata(&p) {
                Ok(m) => {
                    report.blobs += 1;
                    report.blob_bytes += m.len();
                    files.push((rel, p, m.len()));
                }
                Err(_) => report.missing_blobs.push(sha.clone()),
            }
        }
        for name in TLS_FILES {
            let p = data_dir.join("tls").join(name);
            if let Ok(m) = std::fs::metadata(&p) {
                report.tls_files += 1;
                files.push((format!("tls/{name}"), p, m.len()));
            }
        }
        let total: u64 = files.iter().map(|f| f.2).sum();
        let mut o = Out {
            f: BufWriter::with_capacity(CHUNK, create_private(&tmp)?),
            all: Context::new(&SHA256),
            written: 0,
        };
        o.put(MAGIC)?;
        o.put(&FORMAT.to_le_bytes())?;
        let mut done = 0u64;
        for (name, path, len) in &files {
            let sha = o.entry(name, path, *len, &mut done, total, progress)?;
            if let Some(want) = name.strip_prefix("blobs/").map(|s| s.replace('/', ""))
                && sha != want
            {
                // Copied as it is: the backup is faithful to the disk, and says so.
                tracing::warn!("attachment {want} on disk does not match its hash (now {sha})");
            }
        }
        o.put(&[END])?;
        o.put(&(files.len() as u64).to_le_bytes())?;
        o.put(&total.to_le_bytes())?;
        let digest = std::mem::replace(&mut o.all, Context::new(&SHA256)).finish();
        o.put(digest.as_ref())?;
        let f =
            o.f.into_inner()
                .map_err(|e| Error::io("cannot write the backup", e.into_error()))?;
        f.sync_all()
            .map_err(|e| Error::io("cannot sync the backup", e))?;
        report.bytes = o.written;
        Ok(report)
    })();
    let _ = std::fs::remove_file(&store_copy);
    match result {
        Ok(r) => {
            std::fs::rename(&tmp, out)
                .map_err(|e| Error::io(format!("cannot write {}", out.display()), e))?;
            if let Some(parent) = out.parent() {
                sync_dir(parent);
            }
            Ok(r)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[derive(Debug, Default)]
pub struct RestoreReport {
    pub store_bytes: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    pub tls_files: usize,
    /// Where the data that was there before went, if there was any.
    pub kept: Option<PathBuf>,
    /// The file was a store-only backup from an older Parley (no attachments in it).
    pub store_only: bool,
}

/// Where a backup entry may go: the store, a blob under its hash, a generated TLS file.
fn entry_path(name: &str) -> Option<PathBuf> {
    if name == DB_FILE {
        return Some(PathBuf::from(DB_FILE));
    }
    if let Some(rest) = name.strip_prefix("blobs/") {
        let (a, b) = rest.split_once('/')?;
        return (a.len() == 2 && valid_sha(&format!("{a}{b}"))).then(|| PathBuf::from(name));
    }
    let f = name.strip_prefix("tls/")?;
    TLS_FILES.contains(&f).then(|| PathBuf::from(name))
}

fn bad(file: &Path, what: impl std::fmt::Display) -> Error {
    Error::Usage(format!(
        "{} is not an intact Parley backup: {what}; nothing was changed",
        file.display()
    ))
}

/// The backup stream being read: every byte goes through the file digest.
struct In<'a> {
    r: BufReader<File>,
    all: Context,
    file: &'a Path,
    /// Bytes read so far, of `total`, for `progress`.
    read: u64,
    total: u64,
    progress: Progress<'a>,
}

impl In<'_> {
    fn take(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        self.r.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bad(self.file, format!("it is truncated (ends inside {what})"))
            } else {
                Error::io(format!("cannot read {}", self.file.display()), e)
            }
        })?;
        self.all.update(buf);
        self.read += buf.len() as u64;
        (self.progress)(self.read, self.total);
        Ok(())
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        let mut b = [0u8; 8];
        self.take(&mut b, what)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// Read and check the whole backup into `stage`.
fn unpack(
    file: &Path,
    r: BufReader<File>,
    stage: &Path,
    progress: Progress,
) -> Result<RestoreReport> {
    let total = r.get_ref().metadata().map(|m| m.len()).unwrap_or(0);
    let mut input = In {
        r,
        all: Context::new(&SHA256),
        file,
        read: 0,
        total,
        progress,
    };
    let mut head = [0u8; 12];
    input.take(&mut head, "the header")?;
    if &head[..8] != MAGIC {
        return Err(bad(file, "it does not start with a Parley backup header"));
    }
    let format = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if format != FORMAT {
        return Err(bad(
            file,
            format!("format {format}; this build reads format {FORMAT}"),
        ));
    }
    let mut report = RestoreReport::default();
    let (mut entries, mut bytes) = (0u64, 0u64);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut kind = [0u8; 1];
        input.take(&mut kind, "the entry list")?;
        match kind[0] {
            ENTRY => {}
            END => break,
            k => {
                return Err(bad(
                    file,
                    format!("unknown entry kind {k} after {entries} entries"),
                ));
            }
        }
        let mut nl = [0u8; 2];
        input.take(&mut nl, "an entry name")?;
        let mut name = vec![0u8; u16::from_le_bytes(nl) as usize];
        input.take(&mut name, "an entry name")?;
        let name = String::from_utf8(name).map_err(|_| bad(file, "an entry name is not UTF-8"))?;
        let rel =
            entry_path(&name).ok_or_else(|| bad(file, format!("unexpected entry {name:?}")))?;
        let len = input.u64(&name)?;
        let dest = stage.join(&rel);
        if let Some(parent) = dest.parent() {
            create_private_dir(parent)?;
        }
        let mut out = match create_private(&dest) {
            Ok(f) => BufWriter::with_capacity(CHUNK, f),
            Err(_) if dest.exists() => return Err(bad(file, format!("{name} appears twice"))),
            Err(e) => return Err(e),
        };
        let mut ctx = Context::new(&SHA256);
        let mut left = len;
        while left > 0 {
            let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
            input.take(&mut buf[..n], &name)?;
            ctx.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| Error::io(format!("cannot write {}", dest.display()), e))?;
            left -= n as u64;
        }
        let mut want = [0u8; 32];
        input.take(&mut want, &name)?;
        if ctx.finish().as_ref() != want {
            return Err(bad(
                file,
                format!("{name} is corrupt (its SHA-256 differs)"),
            ));
        }
        out.into_inner()
            .map_err(|e| Error::io(format!("cannot write {}", dest.display()), e.into_error()))?
            .sync_all()
            .map_err(|e| Error::io(format!("cannot sync {}", dest.display()), e))?;
        entries += 1;
        bytes += len;
        if name == DB_FILE {
            report.store_bytes = len;
        } else if name.starts_with("blobs/") {
            report.blobs += 1;
            report.blob_bytes += len;
        } else {
            report.tls_files += 1;
        }
    }
    let n = input.u64("the end record")?;
    let total = input.u64("the end record")?;
    let computed = std::mem::replace(&mut input.all, Context::new(&SHA256)).finish();
    let mut want = [0u8; 32];
    input
        .r
        .read_exact(&mut want)
        .map_err(|_| bad(file, "it is truncated (ends inside the end record)"))?;
    if n != entries || total != bytes || computed.as_ref() != want {
        return Err(bad(file, "the end record does not match its contents"));
    }
    let mut extra = [0u8; 1];
    if input.r.read(&mut extra).unwrap_or(0) != 0 {
        return Err(bad(file, "there are bytes after the end record"));
    }
    if report.store_bytes == 0 && !stage.join(DB_FILE).exists() {
        return Err(bad(file, "it holds no store"));
    }
    Ok(report)
}

/// Check the staged store is one this build can read.
fn check_store(file: &Path, db_path: &Path) -> Result<()> {
    let db = Database::builder()
        .open_read_only(db_path)
        .map_err(|e| bad(file, format!("the store is not readable: {e}")))?;
    let tx = db.begin_read()?;
    let v = migrate::version_of(&tx)?;
    if v == 0 || v > migrate::SCHEMA_VERSION {
        return Err(Error::Usage(format!(
            "{} has schema version {v}; this build reads 1..={}",
            file.display(),
            migrate::SCHEMA_VERSION
        )));
    }
    Ok(())
}

/// Restore the backup `file` into `data_dir`. The server must be stopped. Whatever Parley
/// data is there (store, attachments, TLS files, search index) is moved, never deleted, into
/// `data_dir/before-restore-<ms>/`; the search index is rebuilt at the next start.
pub fn restore_dir(data_dir: &Path, file: &Path, progress: Progress) -> Result<RestoreReport> {
    create_private_dir(data_dir)?;
    let _lock = lock_dir(data_dir)?;
    let mut r = BufReader::with_capacity(
        CHUNK,
        File::open(file).map_err(|e| Error::io(format!("cannot open {}", file.display()), e))?,
    );
    let mut magic = [0u8; 8];
    let n = r.read(&mut magic).unwrap_or(0);
    let stage = data_dir.join(format!(".restore-{}", std::process::id()));
    if stage.exists() {
        std::fs::remove_dir_all(&stage)
            .map_err(|e| Error::io(format!("cannot clear {}", stage.display()), e))?;
    }
    create_private_dir(&stage)?;
    let staged = (|| {
        if n == 8 && &magic == MAGIC {
            let r = {
                let mut f = r.into_inner();
                std::io::Seek::rewind(&mut f)
                    .map_err(|e| Error::io(format!("cannot read {}", file.display()), e))?;
                BufReader::with_capacity(CHUNK, f)
            };
            let report = unpack(file, r, &stage, progress)?;
            check_store(file, &stage.join(DB_FILE))?;
            Ok(report)
        } else {
            // A backup from before attachments were included: a bare redb file.
            check_store(file, file)?;
            let dest = stage.join(DB_FILE);
            let mut out = create_private(&dest)?;
            let mut src = File::open(file)
                .map_err(|e| Error::io(format!("cannot open {}", file.display()), e))?;
            let len = std::io::copy(&mut src, &mut out)
                .map_err(|e| Error::io(format!("cannot copy {}", file.display()), e))?;
            out.sync_all()
                .map_err(|e| Error::io("sync restored file", e))?;
            Ok(RestoreReport {
                store_bytes: len,
                store_only: true,
                ..Default::default()
            })
        }
    })();
    let mut report = match staged {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&stage);
            return Err(e);
        }
    };
    let present: Vec<&str> = RESTORED
        .iter()
        .copied()
        .filter(|n| data_dir.join(n).symlink_metadata().is_ok())
        .collect();
    if !present.is_empty() {
        let kept = data_dir.join(format!("before-restore-{}", super::now_ms()));
        create_private_dir(&kept)?;
        for n in &present {
            std::fs::rename(data_dir.join(n), kept.join(n)).map_err(|e| {
                Error::io(
                    format!("cannot move {} aside into {}", n, kept.display()),
                    e,
                )
            })?;
        }
        report.kept = Some(kept);
    }
    for n in RESTORED {
        let from = stage.join(n);
        if from.exists() {
            std::fs::rename(&from, data_dir.join(n)).map_err(|e| {
                Error::io(
                    format!(
                        "cannot put {n} in place (the staged copy is in {})",
                        stage.display()
                    ),
                    e,
                )
            })?;
        }
    }
    let _ = std::fs::remove_dir(&stage);
    sync_dir(data_dir);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_cannot_leave_the_data_dir() {
        let sha = "ab".repeat(32);
        assert!(entry_path(&blob_rel(&sha)).is_some());
        assert!(entry_path(DB_FILE).is_some());
        assert!(entry_path("tls/key.pem").is_some());
        for bad in [
            "../parley.redb",
            "/etc/passwd",
            "blobs/../../x",
            "blobs/ab/../../../etc/passwd",
            "tls/../../x",
            "tls/other.pem",
            "search/meta.json",
            "blobs/AB/CDEF",
        ] {
            assert!(entry_path(bad).is_none(), "{bad}");
        }
    }
}
