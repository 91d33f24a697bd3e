//! The single writer: a dedicated thread that drains queued write requests into one redb
//! transaction and commits once for all of them. One fsync then serves the whole batch, which
//! is what makes thousands of durable writes per second possible on one disk.
//!
//! A failed write (disk full, I/O error) leaves redb refusing every later access, reads
//! included, until the file is closed and opened again (`PreviousIo`). The writer reopens it
//! at once, so reads go on; readers hold the `Handle` while they read, and the reopen waits
//! for them before it closes the old file. Writes are then answered with `Unavailable`
//! (503 + Retry-After) without touching the file until, at most once a second and only when
//! requests come, a test file can be written in the data directory again.

use std::any::Any;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use redb::Database;
use tokio::sync::{mpsc, oneshot};

use super::W;
use super::events::OnCommit;
use crate::error::{Error, Result};

/// Most requests folded into one transaction; bounds the latency a single commit adds.
const MAX_BATCH: usize = 512;
const QUEUE: usize = 8192;
/// How often a failed store checks for space again while requests keep coming.
const RECOVER_EVERY: Duration = Duration::from_secs(1);
/// The test file that must fit before writes resume, so a disk with a few bytes free (or a
/// failing one) does not get a new transaction, and a new failure, for every request.
const PROBE_BYTES: usize = 1 << 20;
/// How long a reopen waits for readers that still use the old file.
const READERS_GRACE: Duration = Duration::from_secs(5);
/// How long a reader waits for a reopen in progress before it answers 503.
const REOPEN_WAIT: Duration = Duration::from_secs(3);

/// The database file, replaceable: the writer swaps in a fresh handle after a failed write.
pub(super) struct Handle {
    db: Mutex<Option<Arc<Database>>>,
    reopened: Condvar,
    path: PathBuf,
    /// The page cache the file was opened with, for a reopen.
    cache_bytes: usize,
}

impl Handle {
    pub(super) fn new(db: Database, path: PathBuf, cache_bytes: usize) -> Handle {
        Handle {
            db: Mutex::new(Some(Arc::new(db))),
            reopened: Condvar::new(),
            path,
            cache_bytes,
        }
    }

    /// The open database; during a reopen, waits for it (briefly).
    pub(super) fn current(&self) -> Result<Arc<Database>> {
        let slot = self.db.lock().unwrap_or_else(|p| p.into_inner());
        let (slot, _) = self
            .reopened
            .wait_timeout_while(slot, REOPEN_WAIT, |s| s.is_none())
            .unwrap_or_else(|p| p.into_inner());
        slot.clone()
            .ok_or_else(|| Error::Unavailable("the store is reopening after a write error".into()))
    }

    fn set(&self, db: Database) {
        *self.db.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(db));
        self.reopened.notify_all();
    }

    /// Close the file and open it again (redb recovers the failed commit on open).
    fn reopen(&self) -> Result<()> {
        let old = self.db.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(old) = old {
            let deadline = Instant::now() + READERS_GRACE;
            while Arc::strong_count(&old) > 1 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            // A reader that outlives the grace keeps the old file open; the open below then
            // fails as locked and is tried again later.
            drop(old);
        }
        match super::open_db(&self.path, self.cache_bytes) {
            Ok(db) => {
                self.set(db);
                Ok(())
            }
            Err(e) => {
                self.reopened.notify_all();
                Err(e)
            }
        }
    }
}

/// Whether the disk under the database takes a small write again.
fn space_for_probe(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(".parley-space-probe");
    let r = (|| {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    r
}

/// Set while the store refuses writes; the reason is what callers are told.
struct Failed {
    reason: String,
    last_try: Instant,
    since: Instant,
    /// The reopen right after the failure did not work (yet): readers have no database.
    reopen_pending: bool,
}

impl Failed {
    /// Called right after a write failed. redb now refuses reads too, so the file is reopened
    /// at once (its recovery needs no new space), and readers carry on while writes wait.
    fn start(db: &Handle, reason: String) -> Failed {
        tracing::error!(
            "store: a write failed ({reason}); answering 503 until the disk takes writes again"
        );
        let reopen_pending = match db.reopen() {
            Ok(()) => false,
            Err(e) => {
                tracing::warn!("store: reopening the database failed (will retry): {e}");
                true
            }
        };
        let now = Instant::now();
        Failed {
            reason,
            last_try: now,
            since: now,
            reopen_pending,
        }
    }
}

type Output = Box<dyn Any + Send>;
type JobFn = Box<dyn FnMut(&W) -> Result<Output> + Send>;

struct Job {
    run: JobFn,
    reply: oneshot::Sender<Result<Output>>,
}

pub(super) struct Writer {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    // Closing the queue ends the thread after its last batch; waiting for it means the
    // database file is closed when the store is gone, so it can be reopened at once.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Writer {
    pub(super) fn start(db: Arc<Handle>, events: Sink) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("parley-writer".into())
            .spawn(move || {
                let mut failed: Option<Failed> = None;
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    if let Some(f) = &mut failed {
                        if !recover(&db, f) {
                            for job in batch {
                                let _ = job.reply.send(Err(Error::Unavailable(f.reason.clone())));
                            }
                            continue;
                        }
                        failed = None;
                    }
                    let handle = match db.current() {
                        Ok(h) => h,
                        Err(e) => {
                            for job in batch {
                                let _ = job.reply.send(Err(Error::Unavailable(e.to_string())));
                            }
                            continue;
                        }
                    };
                    let outcome = run_batch(&handle, &events, batch);
                    drop(handle);
                    if let Some(reason) = outcome.io_failure {
                        // Logged once per episode; requests refused meanwhile are not.
                        failed = Some(Failed::start(&db, reason));
                    }
                }
            })
            .unwrap_or_else(|e| panic!("cannot start the store writer thread: {e}"));
        Writer {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    fn sender(&self) -> Result<&mpsc::Sender<Job>> {
        self.tx
            .as_ref()
            .ok_or_else(|| Error::Unavailable("the store is shutting down".into()))
    }

    fn job<T, F>(mut f: F) -> (Job, oneshot::Receiver<Result<Output>>)
    where
        T: Send + 'static,
        F: FnMut(&W) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let run: JobFn = Box::new(move |w| f(w).map(|v| Box::new(v) as Output));
        (Job { run, reply }, rx)
    }

    fn unbox<T: 'static>(r: Result<Output>) -> Result<T> {
        r.and_then(|b| {
            b.downcast::<T>()
                .map(|b| *b)
                .map_err(|_| Error::Internal("writer returned the wrong type".into()))
        })
    }

    pub(super) async fn submit<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&W) -> Result<T> + Send + 'static,
    {
        let (job, rx) = Self::job(f);
        self.sender()?
            .send(job)
            .await
            .map_err(|_| Error::Unavailable("the store is shutting down".into()))?;
        let r = rx
            .await
            .map_err(|_| Error::Internal("the store writer stopped".into()))?;
        Self::unbox(r)
    }

    pub(super) fn submit_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&W) -> Result<T> + Send + 'static,
    {
        let (job, rx) = Self::job(f);
        self.sender()?
            .blocking_send(job)
            .map_err(|_| Error::Unavailable("the store is shutting down".into()))?;
        let r = rx
            .blocking_recv()
            .map_err(|_| Error::Internal("the store writer stopped".into()))?;
        Self::unbox(r)
    }
}

/// Try to leave the failed state: at most once per `RECOVER_EVERY`, when a test write passes.
fn recover(db: &Handle, f: &mut Failed) -> bool {
    if f.last_try.elapsed() < RECOVER_EVERY {
        return false;
    }
    f.last_try = Instant::now();
    if f.reopen_pending {
        match db.reopen() {
            Ok(()) => f.reopen_pending = false,
            Err(e) => {
                tracing::debug!("store: reopening the database failed again: {e}");
                return false;
            }
        }
    }
    let dir = db.path.parent().unwrap_or(Path::new("."));
    if let Err(e) = space_for_probe(dir) {
        tracing::debug!("store: the data directory does not take writes yet: {e}");
        return false;
    }
    tracing::info!(
        "store: writes work again after {:.1} s",
        f.since.elapsed().as_secs_f64()
    );
    true
}

#[derive(Default)]
struct Outcome {
    /// A storage I/O error (disk full…) happened: redb needs a reopen before the next write.
    io_failure: Option<String>,
}

/// Where committed events go (the realtime hub, once it is wired).
pub(super) type Sink = Arc<std::sync::RwLock<Option<OnCommit>>>;

fn run_batch(db: &Database, events: &Sink, mut batch: Vec<Job>) -> Outcome {
    match try_batch(db, &mut batch) {
        Ok((outputs, committed)) => {
            // Published from this thread, in commit order, before anyone is answered: a
            // caller that got its reply can rely on subscribers having been sent the event.
            // The live copy carries its commit time, so a client on the same clock can
            // measure commit → frame; replays have none.
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
            let sink = events.read().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(publish) = sink {
                for mut e in committed {
                    e.committed_us = Some(at);
                    publish(Arc::new(e));
                }
            }
            for (job, out) in batch.into_iter().zip(outputs) {
                let _ = job.reply.send(Ok(out));
            }
            Outcome::default()
        }
        Err(BatchError::Job(i, e)) if batch.len() == 1 => {
            debug_assert_eq!(i, 0);
            let io_failure = match &e {
                Error::Unavailable(m) => Some(m.clone()),
                _ => None,
            };
            if let Some(job) = batch.pop() {
                let _ = job.reply.send(Err(e));
            }
            Outcome { io_failure }
        }
        // A storage error inside a request (redb flushing pages mid-transaction) is not that
        // request's fault, and redb refuses everything after it: fail the batch as a whole.
        Err(BatchError::Job(_, Error::Unavailable(msg))) => {
            for job in batch {
                let _ = job.reply.send(Err(Error::Unavailable(msg.clone())));
            }
            Outcome {
                io_failure: Some(msg),
            }
        }
        // One request failed: its partial writes were rolled back with everyone else's, so
        // redo the others one at a time to find out which commit on their own.
        Err(BatchError::Job(_, _)) => {
            let mut out = Outcome::default();
            for job in batch {
                if out.io_failure.is_some() {
                    let msg = out.io_failure.clone().unwrap_or_default();
                    let _ = job.reply.send(Err(Error::Unavailable(msg)));
                    continue;
                }
                out = run_batch(db, events, vec![job]);
            }
            out
        }
        Err(BatchError::Commit(msg, transient)) => {
            if !transient {
                tracing::error!("store commit failed: {msg}");
            }
            for job in batch {
                let e = if transient {
                    Error::Unavailable(msg.clone())
                } else {
                    Error::Internal(format!("storage: {msg}"))
                };
                let _ = job.reply.send(Err(e));
            }
            Outcome {
                io_failure: transient.then_some(msg),
            }
        }
    }
}

enum BatchError {
    Job(usize, Error),
    Commit(String, bool),
}

type Committed = (Vec<Output>, Vec<crate::domain::event::Published>);

fn try_batch(db: &Database, batch: &mut [Job]) -> std::result::Result<Committed, BatchError> {
    // The bare message: callers get it wrapped in `Unavailable` or `Internal` again.
    let commit_err = |e: Error| match e {
        Error::Unavailable(m) => BatchError::Commit(m, true),
        e => BatchError::Commit(e.to_string(), false),
    };
    let mut tx = db.begin_write().map_err(|e| commit_err(e.into()))?;
    // Message text is attacker-controlled; two-phase commit keeps a crafted page from being
    // mistaken for a valid commit after a crash.
    tx.set_two_phase_commit(true);
    let mut outputs = Vec::with_capacity(batch.len());
    let pending = RefCell::new(Vec::new());
    let w = W::new(&tx, &pending);
    for (i, job) in batch.iter_mut().enumerate() {
        // A bug in one request must not take the writer thread (and every later write) down.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.run)(&w)))
            .unwrap_or_else(|_| Err(Error::Internal("a store write panicked".into())));
        match r {
            Ok(o) => outputs.push(o),
            Err(e) => {
                drop(w);
                let _ = tx.abort();
                return Err(BatchError::Job(i, e));
            }
        }
    }
    if let Err(e) = w.flush_seqs() {
        drop(w);
        let _ = tx.abort();
        return Err(commit_err(e));
    }
    // Open tables must be closed before the commit.
    drop(w);
    tx.commit().map_err(|e| commit_err(e.into()))?;
    Ok((outputs, pending.into_inner()))
}
