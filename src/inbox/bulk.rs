//! Bulk actions on a selection or on everyone a filter matches (A1): add or remove a tag,
//! archive, start a funnel. The client ids are stored in batches and the job row last; each
//! batch's work, the removal of its row and the job's progress commit in one transaction, so
//! a restart resumes exactly what is left and the writer is never held for more than a batch.

use super::clients::{add_tag_tx, archive_tx, clean_tag, remove_tag_tx};
use super::jobs::BATCH;
use super::{Inbox, emit_row};
use crate::domain::job::{Job, JobState};
use crate::domain::manager::ManagerId;
use crate::error::{Error, Result};
use crate::store;
use crate::store::inbox::{self as db, InboxReads};

pub use crate::domain::job::BulkAction;

impl Inbox {
    /// Start a bulk action on `ids` as a job; returns its id at once. The ids are stored
    /// first, `BATCH` to a row, and the job row last, so a restart resumes exactly the
    /// batches not yet committed. Each batch is one transaction; clients gone meanwhile (or
    /// already in the funnel) count as failed.
    pub async fn start_bulk(
        &self,
        manager: ManagerId,
        ids: Vec<u64>,
        action: BulkAction,
    ) -> Result<String> {
        let action = match action {
            BulkAction::TagAdd(t) => BulkAction::TagAdd(clean_tag(&t)?),
            BulkAction::TagRemove(t) => BulkAction::TagRemove(clean_tag(&t)?),
            BulkAction::Funnel(f) => {
                if self
                    .store
                    .query(move |r| crate::store::automation::funnel(r, f))
                    .await?
                    .is_none()
                {
                    return Err(Error::invalid("funnel", format!("no funnel {f}")));
                }
                BulkAction::Funnel(f)
            }
            a => a,
        };
        let (job, evicted) = self.jobs.start(
            manager.0,
            None,
            action.kind(),
            ids.len() as u64,
            Some(action),
        )?;
        let id = job.id.clone();
        if let Err(e) = self.store_bulk(job, evicted, ids).await {
            self.jobs.finish(&id, Err(e.to_string()));
            return Err(e);
        }
        self.spawn_bulk(id.clone());
        Ok(id)
    }

    async fn store_bulk(&self, job: Job, evicted: Option<String>, ids: Vec<u64>) -> Result<()> {
        // A few thousand ids per transaction: a bulk action on a million clients never holds
        // the writer long.
        const BATCHES_PER_WRITE: usize = 20;
        let chunks: Vec<Vec<u64>> = ids.chunks(BATCH).map(<[u64]>::to_vec).collect();
        let mut n = 0u64;
        for group in chunks.chunks(BATCHES_PER_WRITE) {
            let (group, id, first) = (group.to_vec(), job.id.clone(), n);
            n += group.len() as u64;
            self.store
                .write(move |w| {
                    for (i, batch) in group.iter().enumerate() {
                        store::jobs::put_batch(w, &id, first + i as u64, batch)?;
                    }
                    Ok(())
                })
                .await?;
        }
        self.save_job(Some(job), evicted).await
    }

    fn spawn_bulk(&self, id: String) {
        let me = self.clone();
        tokio::spawn(async move {
            let out = me.run_bulk(&id).await;
            me.finish_job(&id, out.map_err(|e| e.to_string())).await;
        });
    }

    /// Do a stored bulk job's remaining batches.
    async fn run_bulk(&self, job: &str) -> Result<()> {
        loop {
            let id = job.to_string();
            let Some((key, batch)) = self
                .store
                .query(move |r| store::jobs::next_batch(r, &id))
                .await?
            else {
                break;
            };
            let id = job.to_string();
            let funnels = self.live_funnels();
            let channels = self.channels.clone();
            let j = self
                .store
                .write(move |w| {
                    let mut j = store::jobs::job(w, &id)?
                        .ok_or_else(|| Error::NotFound(format!("job {id}")))?;
                    let action = j
                        .action
                        .clone()
                        .ok_or_else(|| Error::Corrupt(format!("job {id} has no action")))?;
                    let manager = j.owner;
                    let mut bad = 0u64;
                    for &id in &batch {
                        let Some(old) = w.contact(id)? else {
                            bad += 1;
                            continue;
                        };
                        if let BulkAction::Funnel(f) = action {
                            match super::automation::start_funnel_tx(
                                w,
                                &channels,
                                ManagerId(manager),
                                f,
                                id,
                            ) {
                                Ok(_) => {}
                                Err(Error::Invalid { .. } | Error::Conflict(_)) => bad += 1,
                                Err(e) => return Err(e),
                            }
                            continue;
                        }
                        let mut c = old.clone();
                        let changed = match &action {
                            BulkAction::TagAdd(t) => {
                                match add_tag_tx(w, &funnels, &mut c, t, manager) {
                                    Ok(ch) => ch,
                                    Err(Error::Invalid { .. }) => {
                                        bad += 1;
                                        false
                                    }
                                    Err(e) => return Err(e),
                                }
                            }
                            BulkAction::TagRemove(t) => remove_tag_tx(w, &mut c, t, manager)?,
                            BulkAction::Archive(a) => archive_tx(w, &mut c, *a, manager)?,
                            BulkAction::Funnel(_) => false,
                        };
                        if changed {
                            db::put_contact(w, Some(&old), &c)?;
                            if c.chat_count > 0 {
                                emit_row(w, &c, &channels)?;
                            }
                        }
                    }
                    store::jobs::delete_batch(w, &key)?;
                    j.done += batch.len() as u64;
                    j.failed += bad;
                    store::jobs::put_job(w, &j)?;
                    Ok(j)
                })
                .await?;
            self.jobs.progress(job, j.total, j.done, j.failed);
        }
        self.automation_wake.notify_one();
        Ok(())
    }

    /// At start-up: load the stored jobs, resume bulk actions a restart interrupted, and end
    /// imports it interrupted (their rows are not kept; the same file again finishes them).
    pub async fn resume_jobs(&self) -> Result<()> {
        let jobs = self
            .store
            .write(|w| {
                let mut jobs = store::jobs::jobs(w)?;
                for orphan in store::jobs::orphan_batches(w, &jobs)? {
                    store::jobs::delete_job(w, &orphan)?;
                }
                for j in &mut jobs {
                    if j.state == JobState::Running && j.action.is_none() {
                        j.state = JobState::Failed(format!(
                            "the server restarted during the import, after {} of {} rows; \
                             import the same file again to finish it (rows already in change nothing)",
                            j.done, j.total
                        ));
                        j.finished_ms = Some(store::now_ms());
                        store::jobs::put_job(w, j)?;
                    }
                }
                Ok(jobs)
            })
            .await?;
        let resume: Vec<String> = jobs
            .iter()
            .filter(|j| j.state == JobState::Running)
            .map(|j| j.id.clone())
            .collect();
        self.jobs.load(jobs);
        for id in resume {
            tracing::info!("resuming job {id}");
            self.spawn_bulk(id);
        }
        Ok(())
    }
}
