//! Jobs and the batches a bulk action has still to do. A batch's work, the removal of its
//! row here and the job's progress commit in one transaction, so a restart neither repeats
//! nor skips a batch.

use super::codec::{self, Key};
use super::tables::{JOB_BATCHES, JOBS};
use super::{Read, Record, W};
use crate::domain::job::Job;
use crate::error::Result;

impl Record for Job {
    const NAME: &'static str = "job";
}

/// Remembered jobs are few (finished ones are pruned), so a load reads them all.
const MAX_JOBS: usize = 10_000;

fn key(id: &str) -> Vec<u8> {
    Key::new().str(id).build()
}

pub fn put_job(w: &W, j: &Job) -> Result<()> {
    w.put(JOBS, &key(&j.id), j)
}

pub fn job<T: Read>(r: &T, id: &str) -> Result<Option<Job>> {
    r.get(JOBS, &key(id))
}

pub fn jobs<T: Read>(r: &T) -> Result<Vec<Job>> {
    r.scan(JOBS, &[], None, false, MAX_JOBS)?
        .iter()
        .map(|(_, v)| codec::decode(v))
        .collect()
}

/// Forget a job and whatever it had left to do.
pub fn delete_job(w: &W, id: &str) -> Result<()> {
    w.del(JOBS, &key(id))?;
    while let Some((k, _)) = next_batch(w, id)? {
        w.del(JOB_BATCHES, &k)?;
    }
    Ok(())
}

pub fn put_batch(w: &W, id: &str, n: u64, ids: &[u64]) -> Result<()> {
    let v = postcard::to_allocvec(ids)
        .map_err(|e| crate::error::Error::Internal(format!("job batch: {e}")))?;
    w.put_raw(JOB_BATCHES, &Key::new().str(id).u64(n).build(), &v)
}

/// The job's first batch still to do: its key (to delete it with the batch's work) and ids.
pub fn next_batch<T: Read>(r: &T, id: &str) -> Result<Option<(Vec<u8>, Vec<u64>)>> {
    let Some((k, v)) = r.scan(JOB_BATCHES, &key(id), None, false, 1)?.pop() else {
        return Ok(None);
    };
    let ids = postcard::from_bytes(&v)
        .map_err(|e| crate::error::Error::Corrupt(format!("job {id} batch: {e}")))?;
    Ok(Some((k, ids)))
}

pub fn delete_batch(w: &W, k: &[u8]) -> Result<bool> {
    w.del(JOB_BATCHES, k)
}

/// Jobs whose batches outlived their row (a start interrupted before the row was written).
pub fn orphan_batches<T: Read>(r: &T, known: &[Job]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let Some((k, _)) = r.scan(JOB_BATCHES, &[], after.as_deref(), false, 1)?.pop() else {
            return Ok(out);
        };
        let end = k.iter().position(|&b| b == 0).unwrap_or(k.len());
        let id = String::from_utf8_lossy(&k[..end]).into_owned();
        if !known.iter().any(|j| j.id == id) && !out.contains(&id) {
            out.push(id.clone());
        }
        // Skip past every batch of this job.
        let mut next = key(&id);
        next.extend_from_slice(&[0xFF; 8]);
        after = Some(next);
    }
}
