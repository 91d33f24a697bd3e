//! Password hashing with argon2id. One hash costs ~19 MiB and tens of milliseconds of CPU, so
//! it runs on dedicated threads at a lower priority (nice 10), never on the async workers
//! nor the blocking pool: a sign-in flood then costs queueing, and pages and live updates
//! keep their CPU. The queue is bounded; beyond it a caller is told to come back later
//! instead of holding memory and a connection while it waits.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Hashes waiting for a thread at most; more are refused with 429.
const QUEUE: usize = 64;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Hasher {
    jobs: Arc<Mutex<mpsc::SyncSender<Job>>>,
}

impl Default for Hasher {
    fn default() -> Self {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        // Half the cores (at least one) hash; the rest stay free for requests.
        let threads = std::thread::available_parallelism()
            .map(|n| (n.get() / 2).max(1))
            .unwrap_or(1);
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("parley-argon2-{i}"))
                .spawn(move || {
                    crate::sys::lower_thread_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(p) => p.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a password-hashing thread: {e}");
            }
        }
        Hasher {
            jobs: Arc::new(Mutex::new(tx)),
        }
    }
}

pub fn hash_blocking(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

/// True when `password` matches `phc`. A malformed stored hash counts as a mismatch.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

impl Hasher {
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .try_send(job);
        match sent {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(_)) => {
                return Err(Error::RateLimited(Duration::from_secs(1)));
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                return Err(Error::Internal("password hashing threads are gone".into()));
            }
        }
        rx.await
            .map_err(|_| Error::Internal("password hashing thread ended".into()))
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move || hash_blocking(&password)).await?
    }

    /// Check `password` against `phc`, or against a dummy hash when there is none (an unknown
    /// login), on the hashing threads.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool> {
        self.run(move || match phc {
            Some(phc) => verify_blocking(&password, &phc),
            None => {
                let _ = verify_blocking(&password, dummy_hash());
                false
            }
        })
        .await
    }
}

/// A valid hash of a random password, verified against when the login does not exist so a
/// wrong login takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_blocking(&crate::accounts::random_token(16)).unwrap_or_else(|_| String::new())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_blocking("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse battery", &h));
        assert!(!verify_blocking("wrong", &h));
        assert!(!verify_blocking("x", "not a phc string"));
    }
}
