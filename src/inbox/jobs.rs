//! Progress of long jobs (a CSV import, a bulk action on a filter) for the manager who
//! started them, polled by their browser. A job does its work in batches through the single
//! writer, so it never holds other writes for more than one batch. The store keeps each job
//! (`store::jobs`) and this map mirrors it for cheap polling: a restart resumes a bulk
//! action; an import it interrupted ends, and importing the file again finishes it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::store;

/// Rows written per import transaction, and clients per bulk-action transaction.
pub const BATCH: usize = 500;

/// How many finished jobs are remembered (per server) before the oldest are forgotten.
const KEEP: usize = 200;

pub use crate::domain::job::{Job, JobState};

#[derive(Default)]
pub struct Jobs {
    inner: Mutex<(HashMap<String, Job>, u64)>,
}

/// A job id: a browser may name its own (so it can poll an import it is still uploading);
/// otherwise the server numbers them.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid("job", "1–64 letters, digits, '-' or '_'"));
    }
    Ok(())
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, Job>, u64)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a running job for `owner`; `id` None numbers it. A running job with the same
    /// id is a 409. Returns the job and the id of a finished one forgotten to make room (the
    /// caller removes it from the store too).
    pub fn start(
        &self,
        owner: u64,
        id: Option<String>,
        kind: &str,
        total: u64,
        action: Option<crate::domain::job::BulkAction>,
    ) -> Result<(Job, Option<String>)> {
        let mut g = self.lock();
        let id = match id {
            Some(id) => {
                check_id(&id)?;
                id
            }
            None => {
                // Numbered from the clock as well, so ids stay unique across restarts.
                g.1 += 1;
                format!("job-{}-{}", crate::domain::now_ms(), g.1)
            }
        };
        if g.0.get(&id).is_some_and(|j| j.state == JobState::Running) {
            return Err(Error::Conflict(format!("job {id} is still running")));
        }
        let mut evicted = None;
        if g.0.len() >= KEEP && !g.0.contains_key(&id) {
            evicted =
                g.0.values()
                    .filter(|j| j.state != JobState::Running)
                    .min_by_key(|j| j.started_ms)
                    .map(|j| j.id.clone());
            if let Some(o) = &evicted {
                g.0.remove(o);
            }
        }
        let job = Job {
            id: id.clone(),
            owner,
            kind: kind.to_string(),
            total,
            done: 0,
            failed: 0,
            state: JobState::Running,
            started_ms: crate::domain::now_ms(),
            finished_ms: None,
            action,
        };
        g.0.insert(id, job.clone());
        Ok((job, evicted))
    }

    /// The jobs the store kept, at start-up.
    pub fn load(&self, jobs: Vec<Job>) {
        let mut g = self.lock();
        for j in jobs {
            g.0.insert(j.id.clone(), j);
        }
    }

    /// A job as it stands now (to store it).
    pub fn snapshot(&self, id: &str) -> Option<Job> {
        self.lock().0.get(id).cloned()
    }

    pub fn progress(&self, id: &str, total: u64, done: u64, failed: u64) {
        if let Some(j) = self.lock().0.get_mut(id) {
            j.total = total;
            j.done = done;
            j.failed = failed;
        }
    }

    /// Mark a job done or failed; returns it as it now stands (to store it).
    pub fn finish(&self, id: &str, outcome: std::result::Result<(), String>) -> Option<Job> {
        let mut g = self.lock();
        let j = g.0.get_mut(id)?;
        j.state = match outcome {
            Ok(()) => JobState::Done,
            Err(e) => JobState::Failed(e),
        };
        j.finished_ms = Some(crate::domain::now_ms());
        Some(j.clone())
    }

    /// A job its owner may see; NotFound for anyone else's.
    pub fn get(&self, owner: u64, id: &str) -> Result<Job> {
        self.lock()
            .0
            .get(id)
            .filter(|j| j.owner == owner)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("job {id}")))
    }
}

impl super::Inbox {
    /// Store a job as it stands and forget one pruned from memory.
    pub(super) async fn save_job(&self, job: Option<Job>, evicted: Option<String>) -> Result<()> {
        if job.is_none() && evicted.is_none() {
            return Ok(());
        }
        self.store
            .write(move |w| {
                if let Some(old) = &evicted {
                    store::jobs::delete_job(w, old)?;
                }
                if let Some(j) = &job {
                    store::jobs::put_job(w, j)?;
                }
                Ok(())
            })
            .await
    }

    pub(super) async fn finish_job(&self, id: &str, outcome: std::result::Result<(), String>) {
        let job = self.jobs.finish(id, outcome);
        if let Err(e) = self.save_job(job, None).await {
            tracing::error!("job {id}: its outcome was not stored: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_private_and_a_running_id_is_not_reused() {
        let jobs = Jobs::default();
        let a = jobs.start(1, None, "tag_add", 10, None).unwrap().0.id;
        jobs.progress(&a, 10, 4, 1);
        assert_eq!(jobs.get(1, &a).unwrap().done, 4);
        assert!(
            jobs.get(2, &a).is_err(),
            "another manager's job is not found"
        );
        let b = jobs
            .start(1, Some("imp-1".into()), "import", 0, None)
            .unwrap()
            .0
            .id;
        assert!(jobs.start(1, Some(b.clone()), "import", 0, None).is_err());
        jobs.finish(&b, Ok(()));
        assert_eq!(jobs.get(1, &b).unwrap().state, JobState::Done);
        assert!(
            jobs.start(1, Some(b), "import", 0, None).is_ok(),
            "a finished id may be reused"
        );
        assert!(
            jobs.start(1, Some("bad id!".into()), "import", 0, None)
                .is_err()
        );
    }
}
