//! The only module that touches redb. Reads run directly on MVCC snapshots and never wait for
//! the writer; every write goes through one writer thread that batches concurrent requests
//! into a single transaction (group commit, DESIGN.md invariant 2) and answers each caller
//! only after the commit is durable.

pub mod assistant;
pub mod automation;
pub mod backup;
pub mod broadcasts;
pub mod channels;
pub mod codec;
mod error;
pub mod events;
pub mod inbox;
pub mod jobs;
pub mod managers;
pub mod meta;
mod migrate;
pub mod private;
pub mod replies;
pub mod reports;
pub mod saved;
pub mod search_log;
pub mod sessions;
mod tables;
pub mod templates;
mod writer;

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    ConcurrencyMode, Database, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction,
};

pub use codec::{Key, Record};
pub use tables::Table;

use crate::error::{Error, Result};

pub const DB_FILE: &str = "parley.redb";
const LOCK_FILE: &str = "parley.lock";

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<writer::Handle>,
    on_commit: writer::Sink,
    writer: writer::Writer,
    dir: PathBuf,
    // Held for the life of the store: the OS releases it when the process dies, so a crash
    // never leaves the data directory stuck.
    _lock: File,
}

impl Store {
    /// Open (creating if needed) the store in `dir`, take the directory lock, run migrations
    /// and start the writer thread.
    /// Open with the page cache sized from the data (`cache_for`).
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with(dir, None)
    }

    /// Open with a page cache of `cache_bytes` (None: sized from the store file).
    pub fn open_with(dir: &Path, cache_bytes: Option<usize>) -> Result<Store> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("cannot create data dir {}", dir.display()), e))?;
        let lock = lock_dir(dir)?;
        let path = dir.join(DB_FILE);
        // redb creates its file with the umask's modes; an empty file it is given is
        // initialised instead, so the store is never readable by others, even briefly.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(format!("cannot create {}", path.display()), e)),
        }
        private::tighten(dir);
        let cache = cache_bytes
            .unwrap_or_else(|| cache_for(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)));
        let db = open_db(&path, cache)?;
        migrate::run(&db)?;
        let db = Arc::new(writer::Handle::new(db, path, cache));
        let on_commit = writer::Sink::default();
        let writer = writer::Writer::start(db.clone(), on_commit.clone());
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                on_commit,
                writer,
                dir: dir.to_path_buf(),
                _lock: lock,
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Run `f` on a consistent snapshot. Never blocks on the writer.
    /// `read` off the async workers: a redb read can wait on the disk, and a handler that
    /// blocks a worker stalls every connection that worker serves.
    pub async fn query<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&R) -> Result<T> + Send + 'static,
    {
        // On a runtime with worker threads, the worker hands its other connections to
        // another thread and runs the read at once: a spawn_blocking hand-off would add a
        // thread wake-up to every request (measured: +0.2 ms on opening a chat).
        if matches!(
            tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
            Ok(tokio::runtime::RuntimeFlavor::MultiThread)
        ) {
            return tokio::task::block_in_place(|| self.read(f));
        }
        let store = self.clone();
        match tokio::task::spawn_blocking(move || store.read(f)).await {
            Ok(r) => r,
            Err(e) => Err(crate::error::Error::Internal(format!("read task: {e}"))),
        }
    }

    pub fn read<T>(&self, f: impl FnOnce(&R) -> Result<T>) -> Result<T> {
        // Holding the handle while `f` runs keeps a reopen after a failed write (see
        // writer.rs) from closing the file under this snapshot.
        let db = self.inner.db.current()?;
        let tx = db.begin_read()?;
        f(&R::new(tx))
    }

    /// Run `f` inside the next group-commit transaction and return its result after the
    /// commit. `f` may run twice: if another request in the same batch fails, the batch is
    /// retried one request at a time, so `f` must not have side effects outside `W`.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&W) -> Result<T> + Send + 'static,
    {
        self.inner.writer.submit(f).await
    }

    /// `write` for synchronous callers (CLI commands outside a runtime).
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&W) -> Result<T> + Send + 'static,
    {
        self.inner.writer.submit_blocking(f)
    }

    /// Hand every committed event, in commit order, to `f` (the realtime hub); replaces an
    /// earlier one. Called on the writer thread before the writer answers, so `f` must not
    /// block.
    pub fn on_commit(&self, f: events::OnCommit) {
        *self
            .inner
            .on_commit
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(f);
    }

    /// The current database handle; hold it only as long as a snapshot is needed.
    pub(crate) fn database(&self) -> Result<Arc<Database>> {
        self.inner.db.current()
    }
}

/// The page cache for a store file of `file_bytes`: an eighth of it, between 16 and 96 MB.
/// Hot pages (recent chats, the section tables, lookups) are a small part of a large store,
/// and the kernel's page cache keeps the rest of the file close anyway; a bigger cache mostly
/// grows the resident memory after a full scan (an export, an index rebuild).
pub fn cache_for(file_bytes: u64) -> usize {
    (file_bytes / 8).clamp(16 << 20, 96 << 20) as usize
}

/// Open or create the database file with the settings the server uses.
fn open_db(path: &Path, cache_bytes: usize) -> Result<Database> {
    Database::builder()
        .set_cache_size(cache_bytes)
        // One process writes; `parley backup` may open the file read-only meanwhile.
        .set_concurrency_mode(ConcurrencyMode::SingleWriter)
        .create(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                Error::Locked(format!("{} is in use by another process", path.display()))
            }
            other => match Error::from(other) {
                // Disk full while opening (a reopen after a failed write): try again later.
                e @ Error::Unavailable(_) => e,
                e => Error::Internal(format!("cannot open {}: {e}", path.display())),
            },
        })
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(Error::Locked(format!(
                "data directory {} is in use by another Parley process{}; stop it first or use another --data-dir",
                dir.display(),
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                }
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Error::io(format!("cannot lock {}", path.display()), e));
        }
    }
    // The pid is only a hint for the message above; the lock is what counts.
    let _ = f.set_len(0);
    let _ = std::io::Write::write_all(&mut &f, std::process::id().to_string().as_bytes());
    Ok(f)
}

/// A read snapshot.
pub struct R {
    tx: ReadTransaction,
    /// Tables opened by this snapshot so far: opening one is a lookup in redb's table tree,
    /// which would otherwise double the cost of every get (a list row makes about seven).
    tables: RefCell<std::collections::HashMap<String, RTable>>,
}

type RTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

impl R {
    fn new(tx: ReadTransaction) -> R {
        R {
            tx,
            tables: RefCell::new(std::collections::HashMap::new()),
        }
    }

    fn with<T>(&self, t: Table, f: impl FnOnce(&RTable) -> Result<T>) -> Result<T> {
        use redb::TableHandle;
        let mut cache = self.tables.borrow_mut();
        if !cache.contains_key(t.name()) {
            cache.insert(t.name().to_string(), self.tx.open_table(t)?);
        }
        match cache.get(t.name()) {
            Some(table) => f(table),
            None => Err(Error::Internal("table cache".into())),
        }
    }
}

type WTable<'a> = redb::Table<'a, &'static [u8], &'static [u8]>;

/// The write transaction of the current batch, and the events it will publish on commit.
/// Tables stay open for the whole batch: opening one is a lookup (and closing a modified one
/// a write) in redb's table tree, which would otherwise dominate small writes.
pub struct W<'a> {
    tx: &'a WriteTransaction,
    events: &'a RefCell<Vec<events::Pending>>,
    tables: RefCell<std::collections::HashMap<String, WTable<'a>>>,
    /// Kind → index in `events` of this batch's event that later ones of that kind replace.
    latest: RefCell<std::collections::HashMap<&'static str, usize>>,
    /// Sequences taken in this batch (`meta` key → last value), written once before the
    /// commit: a message takes five or so ids, and each was a read and a write in `meta`.
    seqs: RefCell<std::collections::HashMap<Vec<u8>, u64>>,
}

impl<'a> W<'a> {
    fn new(tx: &'a WriteTransaction, events: &'a RefCell<Vec<events::Pending>>) -> W<'a> {
        W {
            tx,
            events,
            tables: RefCell::new(std::collections::HashMap::new()),
            latest: RefCell::new(std::collections::HashMap::new()),
            seqs: RefCell::new(std::collections::HashMap::new()),
        }
    }

    /// Write the sequences this batch advanced; before the commit.
    fn flush_seqs(&self) -> Result<()> {
        for (k, v) in self.seqs.borrow().iter() {
            self.with(tables::META, |t| {
                t.insert(k.as_slice(), v.to_be_bytes().as_slice())?;
                Ok(())
            })?;
        }
        Ok(())
    }

    fn with<T>(&self, t: Table, f: impl FnOnce(&mut WTable<'a>) -> Result<T>) -> Result<T> {
        use redb::TableHandle;
        let mut cache = self.tables.borrow_mut();
        if !cache.contains_key(t.name()) {
            cache.insert(t.name().to_string(), self.tx.open_table(t)?);
        }
        match cache.get_mut(t.name()) {
            Some(table) => f(table),
            None => Err(Error::Internal("table cache".into())),
        }
    }
}

/// Reads that work the same on a snapshot and inside the write transaction.
pub trait Read {
    fn get_raw(&self, t: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Up to `limit` entries whose key starts with `prefix`, in key order (or reverse),
    /// starting after `after` when given.
    fn scan(
        &self,
        t: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Number of rows; O(1) in redb (the length is kept in the table header).
    fn len(&self, t: Table) -> Result<u64>;

    fn get<V: Record>(&self, t: Table, key: &[u8]) -> Result<Option<V>> {
        match self.get_raw(t, key)? {
            Some(b) => codec::decode(&b).map(Some),
            None => Ok(None),
        }
    }

    fn exists(&self, t: Table, key: &[u8]) -> Result<bool> {
        Ok(self.get_raw(t, key)?.is_some())
    }

    /// Decoded values of a prefix scan.
    fn values<V: Record>(
        &self,
        t: Table,
        prefix: &[u8],
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<V>> {
        self.scan(t, prefix, None, reverse, limit)?
            .into_iter()
            .map(|(_, v)| codec::decode(&v))
            .collect()
    }
}

fn scan_table<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    prefix: &[u8],
    after: Option<&[u8]>,
    reverse: bool,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    use std::ops::Bound;
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    let end = codec::prefix_end(prefix);
    let upper: Bound<&[u8]> = match &end {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    let (lo, hi): (Bound<&[u8]>, Bound<&[u8]>) = match (reverse, after) {
        (false, Some(a)) => (Bound::Excluded(a), upper),
        (false, None) => (Bound::Included(prefix), upper),
        (true, Some(a)) => (Bound::Included(prefix), Bound::Excluded(a)),
        (true, None) => (Bound::Included(prefix), upper),
    };
    let range = table.range::<&[u8]>((lo, hi))?;
    type Entry<'a> = std::result::Result<
        (
            redb::AccessGuard<'a, &'static [u8]>,
            redb::AccessGuard<'a, &'static [u8]>,
        ),
        redb::StorageError,
    >;
    let mut take = |e: Entry<'_>| -> Result<bool> {
        let (k, v) = e?;
        out.push((k.value().to_vec(), v.value().to_vec()));
        Ok(out.len() >= limit)
    };
    if reverse {
        for e in range.rev() {
            if take(e)? {
                break;
            }
        }
    } else {
        for e in range {
            if take(e)? {
                break;
            }
        }
    }
    Ok(out)
}

impl Read for R {
    fn get_raw(&self, t: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with(t, |table| Ok(table.get(key)?.map(|v| v.value().to_vec())))
    }

    fn scan(
        &self,
        t: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.with(t, |table| scan_table(table, prefix, after, reverse, limit))
    }

    fn len(&self, t: Table) -> Result<u64> {
        use redb::ReadableTableMetadata;
        self.with(t, |table| Ok(table.len()?))
    }
}

impl Read for W<'_> {
    fn get_raw(&self, t: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        use redb::TableHandle;
        if t.name() == tables::META.name()
            && let Some(v) = self.seqs.borrow().get(key)
        {
            return Ok(Some(v.to_be_bytes().to_vec()));
        }
        self.with(t, |table| Ok(table.get(key)?.map(|v| v.value().to_vec())))
    }

    fn scan(
        &self,
        t: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.with(t, |table| scan_table(table, prefix, after, reverse, limit))
    }

    fn len(&self, t: Table) -> Result<u64> {
        use redb::ReadableTableMetadata;
        self.with(t, |table| Ok(table.len()?))
    }
}

impl W<'_> {
    pub fn put<V: Record>(&self, t: Table, key: &[u8], v: &V) -> Result<()> {
        self.put_raw(t, key, &codec::encode(v)?)
    }

    pub fn put_raw(&self, t: Table, key: &[u8], v: &[u8]) -> Result<()> {
        self.with(t, |table| {
            table.insert(key, v)?;
            Ok(())
        })
    }

    /// Removes `key`; true when it was there.
    pub fn del(&self, t: Table, key: &[u8]) -> Result<bool> {
        self.with(t, |table| Ok(table.remove(key)?.is_some()))
    }

    /// Next value of the named sequence (starting at 1), stored in `meta`.
    pub fn next_id(&self, seq: &str) -> Result<u64> {
        let key = Key::new().str("seq").str(seq).build();
        let cur = match self.get_raw(tables::META, &key)? {
            Some(b) => codec::read_u64(&b, 0)?,
            None => 0,
        };
        let next = cur + 1;
        self.seqs.borrow_mut().insert(key, next);
        Ok(next)
    }
}

/// Kept here so the store's many callers of `store::now_ms` need not change.
pub use crate::domain::now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_cache_follows_the_store_size_within_bounds() {
        assert_eq!(cache_for(0), 16 << 20);
        assert_eq!(cache_for(400 << 20), 50 << 20);
        assert_eq!(cache_for(1_700 << 20), 96 << 20);
    }
    use crate::store::tables::META;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commit_keeps_failures_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut handles = Vec::new();
        for i in 0..200u64 {
            let s = store.clone();
            handles.push(tokio::spawn(async move {
                s.write(move |w| {
                    if i % 7 == 0 {
                        w.put_raw(META, b"should-not-exist", b"x")?;
                        return Err(Error::BadRequest(format!("job {i} fails")));
                    }
                    w.put_raw(META, &Key::new().str("k").u64(i).build(), b"v")?;
                    w.next_id("t")
                })
                .await
            }));
        }
        let mut ok = 0;
        for (i, h) in handles.into_iter().enumerate() {
            let r = h.await.unwrap();
            assert_eq!(r.is_err(), i % 7 == 0, "job {i}: {r:?}");
            ok += r.is_ok() as usize;
        }
        let (n, bad) = store
            .read(|r| {
                let n = r.scan(META, &Key::new().str("k").build(), None, false, 1000)?;
                Ok((n.len(), r.exists(META, b"should-not-exist")?))
            })
            .unwrap();
        assert_eq!(n, ok);
        assert!(!bad, "a failed job's writes leaked into the commit");
        // Sequence values are unique and dense even across retried batches.
        let last = store.write(|w| w.next_id("t")).await.unwrap();
        assert_eq!(last as usize, ok + 1);
    }

    #[test]
    fn second_open_of_the_same_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _a = Store::open(dir.path()).unwrap();
        let e = Store::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("in use"), "{e}");
    }

    #[test]
    fn scan_respects_prefix_cursor_and_direction() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write_blocking(|w| {
                for a in 1..=3u64 {
                    for b in 1..=4u64 {
                        w.put_raw(META, &Key::new().u64(a).u64(b).build(), b"")?;
                    }
                }
                Ok(())
            })
            .unwrap();
        let p = Key::new().u64(2).build();
        let keys = |v: Vec<(Vec<u8>, Vec<u8>)>| {
            v.into_iter()
                .map(|(k, _)| codec::read_u64(&k, 8).unwrap())
                .collect::<Vec<_>>()
        };
        let fwd = store.read(|r| r.scan(META, &p, None, false, 10)).unwrap();
        assert_eq!(keys(fwd), vec![1, 2, 3, 4]);
        let after = Key::new().u64(2).u64(2).build();
        let fwd = store
            .read(|r| r.scan(META, &p, Some(&after), false, 10))
            .unwrap();
        assert_eq!(keys(fwd), vec![3, 4]);
        let rev = store
            .read(|r| r.scan(META, &p, Some(&after), true, 10))
            .unwrap();
        assert_eq!(keys(rev), vec![1]);
        let rev = store.read(|r| r.scan(META, &p, None, true, 2)).unwrap();
        assert_eq!(keys(rev), vec![4, 3]);
    }
}

/// The read traits, for `use crate::store::prelude::*`.
pub mod prelude {
    pub use super::Read;
    pub use super::inbox::InboxReads;
    pub use super::managers::ManagerReads;
}
