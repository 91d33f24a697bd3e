//! The single writer: a dedicated thread that drains queued write requests into one redb
//! transaction and commits once for all of them. One fsync then serves the whole batch, which
//! is what makes thousands of durable writes per second possible on one disk.

use std::any::Any;
use std::sync::Arc;

use redb::Database;
use tokio::sync::{mpsc, oneshot};

use std::cell::RefCell;

use tokio::sync::broadcast;

use super::W;
use super::events::Event;
use crate::error::{Error, Result};

/// Most requests folded into one transaction; bounds the latency a single commit adds.
const MAX_BATCH: usize = 512;
const QUEUE: usize = 8192;

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
    pub(super) fn start(db: Arc<Database>, events: broadcast::Sender<Arc<Event>>) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("parley-writer".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    run_batch(&db, &events, batch);
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

fn run_batch(db: &Database, events: &broadcast::Sender<Arc<Event>>, mut batch: Vec<Job>) {
    match try_batch(db, &mut batch) {
        Ok((outputs, committed)) => {
            // Published from this thread, in commit order, before anyone is answered: a
            // caller that got its reply can rely on subscribers having been sent the event.
            for e in committed {
                let _ = events.send(Arc::new(e));
            }
            for (job, out) in batch.into_iter().zip(outputs) {
                let _ = job.reply.send(Ok(out));
            }
        }
        Err(BatchError::Job(i, e)) if batch.len() == 1 => {
            debug_assert_eq!(i, 0);
            if let Some(job) = batch.pop() {
                let _ = job.reply.send(Err(e));
            }
        }
        // One request failed: its partial writes were rolled back with everyone else's, so
        // redo the others one at a time to find out which commit on their own.
        Err(BatchError::Job(_, _)) => {
            for job in batch {
                run_batch(db, events, vec![job]);
            }
        }
        Err(BatchError::Commit(msg, transient)) => {
            if transient {
                tracing::error!("store commit failed (will answer 503): {msg}");
            } else {
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
        }
    }
}

enum BatchError {
    Job(usize, Error),
    Commit(String, bool),
}

type Committed = (Vec<Output>, Vec<Event>);

fn try_batch(db: &Database, batch: &mut [Job]) -> std::result::Result<Committed, BatchError> {
    let commit_err = |e: Error| {
        let transient = matches!(e, Error::Unavailable(_));
        BatchError::Commit(e.to_string(), transient)
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
    // Open tables must be closed before the commit.
    drop(w);
    tx.commit().map_err(|e| commit_err(e.into()))?;
    Ok((outputs, pending.into_inner()))
}
