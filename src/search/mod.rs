//! The only module that imports tantivy. Two derived indexes under `<data_dir>/search/`:
//! contacts (type-ahead, filters) and messages (full text). redb is the truth: every change
//! that matters appends to a change log in the same transaction, and one indexer task applies
//! the log in order, commits with the last applied sequence in the commit payload, and then
//! trims the log. At start a missing, corrupt or old-version index is rebuilt from the store,
//! and an intact one catches up from the log, so a crash at any moment loses nothing. Search
//! reads neither the log nor the tables itself: it is fed through a `Source`.

mod ids;
pub mod knowledge;
pub mod query;
mod ranked;
pub mod schema;
pub mod source;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::Query;
use tantivy::schema::Value;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};
use tokio::sync::{Notify, watch};

use crate::domain::filter::Filter;
use crate::error::{Error, Result};
use schema::{ContactFields, MessageFields};
pub use source::{Changes, ContactDoc, MessageDoc, Source};

fn terr(e: tantivy::TantivyError) -> Error {
    Error::Internal(format!("search index: {e}"))
}

struct Idx<F> {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: F,
    path: PathBuf,
    version: u32,
}

fn payload(version: u32, seq: u64) -> String {
    format!("parley-search v{version} seq={seq}")
}

fn parse_payload(p: &str) -> Option<(u32, u64)> {
    let rest = p.strip_prefix("parley-search v")?;
    let (v, s) = rest.split_once(" seq=")?;
    Some((v.parse().ok()?, s.parse().ok()?))
}

impl<F: Copy> Idx<F> {
    /// Open the index at `path`; Ok(None) when it must be rebuilt (absent, corrupt, other
    /// version), after clearing the directory.
    fn open(
        path: &Path,
        version: u32,
        schema: tantivy::schema::Schema,
        fields: F,
        writer_bytes: usize,
    ) -> Result<(Idx<F>, Option<u64>)> {
        let opened = if path.join("meta.json").exists() {
            match Index::open_in_dir(path) {
                Ok(index) => {
                    let seq = index
                        .load_metas()
                        .ok()
                        .and_then(|m| m.payload)
                        .and_then(|p| parse_payload(&p))
                        .filter(|(v, _)| *v == version)
                        .map(|(_, s)| s);
                    if seq.is_some() && index.schema() == schema {
                        Some((index, seq))
                    } else {
                        None
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "search index {} is unreadable ({e}); rebuilding it",
                        path.display()
                    );
                    None
                }
            }
        } else {
            None
        };
        let (index, seq) = match opened {
            Some(v) => v,
            None => {
                if path.exists() {
                    std::fs::remove_dir_all(path)
                        .map_err(|e| Error::io(format!("cannot clear {}", path.display()), e))?;
                }
                std::os::unix::fs::DirBuilderExt::mode(
                    std::fs::DirBuilder::new().recursive(true),
                    0o700,
                )
                .create(path)
                .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
                (Index::create_in_dir(path, schema).map_err(terr)?, None)
            }
        };
        schema::register(&index)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(terr)?;
        let writer = background(|| index.writer_with_num_threads(1, writer_bytes)).map_err(terr)?;
        // A process killed mid-commit can leave files meta.json does not list (e.g. a
        // `<segment>.<opstamp>.del`); replaying the same changes would then try to create the
        // same file and fail. Remove them before any write.
        if let Err(e) = writer.garbage_collect_files().wait() {
            tracing::warn!(
                "search index {}: removing stale files failed: {e}",
                path.display()
            );
        }
        Ok((
            Idx {
                reader,
                writer: Mutex::new(writer),
                fields,
                path: path.to_path_buf(),
                version,
            },
            seq,
        ))
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drop what was added since the last commit. After a failed write (disk full) tantivy's
    /// writer refuses further work; rolling back gives a fresh one, and the change log entries
    /// are applied again on the next try, since the watermark did not move.
    fn rollback(&self) {
        if let Err(e) = self.writer().rollback() {
            tracing::warn!("search: resetting the index writer failed: {e}");
        }
    }

    /// Make what a rebuild indexed so far searchable. The payload names no log position, so
    /// a restart before the rebuild's final commit rebuilds again.
    fn commit_partial(&self, w: &mut IndexWriter) -> Result<()> {
        let mut prepared = w.prepare_commit().map_err(terr)?;
        prepared.set_payload(&format!("parley-search v{} partial", self.version));
        prepared.commit().map_err(terr)?;
        self.reader.reload().map_err(terr)
    }

    /// Merge every segment into one after a rebuild: type-ahead walks one posting list per
    /// term instead of one per segment (a rebuild leaves a dozen). A failed merge only
    /// leaves the segments as they were.
    fn merge_all(&self) {
        let ids = self.reader.searcher().segment_readers().len();
        if ids < 2 {
            return;
        }
        let segments = match self.writer().index().searchable_segment_ids() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("search: listing segments to merge failed: {e}");
                return;
            }
        };
        let merge = self.writer().merge(&segments);
        match merge.wait() {
            Ok(_) => {
                if let Err(e) = self.reader.reload() {
                    tracing::warn!("search: reloading after the merge failed: {e}");
                }
                let _ = self.writer().garbage_collect_files().wait();
            }
            Err(e) => tracing::warn!("search: merging after the rebuild failed: {e}"),
        }
    }

    /// Whether the writer merges segments on its own: off during a rebuild (it is merged
    /// into one at the end), on otherwise.
    fn auto_merge(&self, on: bool) {
        let w = self.writer();
        if on {
            w.set_merge_policy(Box::new(tantivy::indexer::LogMergePolicy::default()));
        } else {
            w.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        }
    }

    fn commit(&self, seq: u64) -> Result<()> {
        let mut w = self.writer();
        let mut prepared = w.prepare_commit().map_err(terr)?;
        prepared.set_payload(&payload(self.version, seq));
        prepared.commit().map_err(terr)?;
        drop(w);
        self.reader.reload().map_err(terr)
    }
}

struct MergeBack<'a, F: Copy>(&'a Idx<F>);

impl<F: Copy> Drop for MergeBack<'_, F> {
    fn drop(&mut self) {
        self.0.auto_merge(true);
    }
}

pub struct Search {
    contacts: Idx<ContactFields>,
    messages: Idx<MessageFields>,
    /// Last change-log sequence both indexes contain.
    applied: Mutex<u64>,
    pub wake: Arc<Notify>,
    rebuild: Rebuild,
    source: Arc<dyn Source>,
}

/// Indexes still to be rebuilt from the store (after a restore, a crash mid-rebuild or a
/// schema change). The server serves meanwhile. A rebuild commits as it goes, so type-ahead
/// and filtered lists answer from what is indexed (and the API says the index is being
/// built); what must be complete (a broadcast's or bulk action's recipients) answers 503.
#[derive(Default)]
struct Rebuild {
    /// The change-log position each index holds; None while it still has to be rebuilt.
    seqs: Mutex<(Option<u64>, Option<u64>)>,
    contacts: AtomicBool,
    messages: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
}

/// Where a background rebuild is: which index, rows done, rows in all.
pub struct Rebuilding {
    pub index: &'static str,
    pub done: u64,
    pub total: u64,
}

/// At most this many contacts and messages are re-indexed before the server starts serving;
/// more are re-indexed in the background while it serves.
const SYNC_REBUILD_CONTACTS: u64 = 1_000;
const SYNC_REBUILD_MESSAGES: u64 = 10_000;

fn contact_doc(f: &ContactFields, d: &ContactDoc) -> TantivyDocument {
    schema::contact_doc(f, &d.contact, &d.chats, &d.sections)
}

/// Each index writer's buffer by default (tantivy's minimum is 15 MB).
pub const WRITER_BYTES: usize = 40 << 20;

/// During a rebuild, documents indexed between commits that make them searchable.
const PARTIAL_COMMIT: u64 = 100_000;

/// A round of indexing this big means writes are busy: gather longer before the next one.
const BUSY_ROUND: usize = 500;

/// Change-log entries read per batch.
const BATCH: usize = 20_000;
/// Change-log entries dropped per trimming write.
const TRIM: usize = 2000;

pub struct Hit {
    pub contact_id: u64,
}

pub struct MessageHit {
    pub message_id: u64,
    pub chat_id: u64,
    pub contact_id: u64,
    pub kind: String,
    pub text: String,
    pub created_ms: i64,
}

/// Runs `f` on a new thread with a lowered scheduling priority. The index writer starts its
/// indexing, merge and compression threads from there, and threads inherit the priority:
/// indexing bursts (merges take a fifth of the server's CPU during heavy ingest) then yield
/// the cores to requests and commits instead of delaying them. Search stays within about a
/// second under normal load and catches up after a burst.
fn background<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            crate::sys::lower_thread_priority();
            f()
        })
        .join()
    })
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

impl Search {
    /// Open both indexes under `<data_dir>/search`, rebuilding what needs it from `source`,
    /// then catch up from the change log. Blocks until done (`parley reindex`, tools).
    pub fn open(
        data_dir: &Path,
        source: Arc<dyn Source>,
        progress: &dyn Fn(&str, u64, u64),
    ) -> Result<Search> {
        let s = Search::open_deferred(data_dir, source)?;
        s.finish_rebuild(progress)?;
        Ok(s)
    }

    /// Open both indexes, leaving any rebuild to `run` (or `finish_rebuild`), so a server
    /// starts at once after a restore instead of after minutes of indexing. An intact index
    /// only catches up from the change log here, which is quick.
    pub fn open_deferred(data_dir: &Path, source: Arc<dyn Source>) -> Result<Search> {
        Search::open_deferred_with(data_dir, source, None)
    }

    /// `open_deferred` with each index writer's buffer (None: `WRITER_BYTES`): what indexing
    /// holds in memory before it writes a segment.
    pub fn open_deferred_with(
        data_dir: &Path,
        source: Arc<dyn Source>,
        writer_bytes: Option<usize>,
    ) -> Result<Search> {
        Search::open_deferred_above(
            data_dir,
            source,
            SYNC_REBUILD_CONTACTS,
            SYNC_REBUILD_MESSAGES,
            writer_bytes.unwrap_or(WRITER_BYTES),
        )
    }

    /// `open_deferred`, re-indexing before it returns when the store holds at most
    /// `max_contacts` contacts and `max_messages` messages.
    pub(crate) fn open_deferred_above(
        data_dir: &Path,
        source: Arc<dyn Source>,
        max_contacts: u64,
        max_messages: u64,
        writer_bytes: usize,
    ) -> Result<Search> {
        let root = data_dir.join("search");
        let (cs, cf) = schema::contacts_schema();
        let (ms, mf) = schema::messages_schema();
        let (contacts, cseq) = Idx::open(
            &root.join("contacts"),
            schema::CONTACTS_VERSION,
            cs,
            cf,
            writer_bytes,
        )?;
        let (messages, mseq) = Idx::open(
            &root.join("messages"),
            schema::MESSAGES_VERSION,
            ms,
            mf,
            writer_bytes,
        )?;
        let s = Search {
            contacts,
            messages,
            applied: Mutex::new(0),
            wake: Arc::new(Notify::new()),
            rebuild: Rebuild {
                seqs: Mutex::new((cseq, mseq)),
                contacts: AtomicBool::new(cseq.is_none()),
                messages: AtomicBool::new(mseq.is_none()),
                ..Default::default()
            },
            source,
        };
        // A small store is indexed in well under a second: do it now, so a fresh or
        // crashed server answers every search from its first request. Only a large one
        // (a restored shop) is left to the background.
        let (contacts, messages) = s.source.sizes()?;
        let small = contacts <= max_contacts && messages <= max_messages;
        if s.rebuilding().is_none() || small {
            s.finish_rebuild(&|_, _, _| {})?;
        }
        Ok(s)
    }

    /// Which index is being rebuilt and how far, while one is.
    pub fn rebuilding(&self) -> Option<Rebuilding> {
        let r = &self.rebuild;
        let index = if r.contacts.load(Ordering::Acquire) {
            "contacts"
        } else if r.messages.load(Ordering::Acquire) {
            "messages"
        } else {
            return None;
        };
        Some(Rebuilding {
            index,
            done: r.done.load(Ordering::Relaxed),
            total: r.total.load(Ordering::Relaxed),
        })
    }

    /// `rebuilding`, when answers from the contacts index (`messages` false) or the messages
    /// index (true) may be incomplete.
    pub fn incomplete(&self, messages: bool) -> Option<Rebuilding> {
        let pending = if messages {
            &self.rebuild.messages
        } else {
            &self.rebuild.contacts
        };
        if pending.load(Ordering::Acquire) {
            self.rebuilding()
        } else {
            None
        }
    }

    fn check_ready(&self, pending: &AtomicBool) -> Result<()> {
        if !pending.load(Ordering::Acquire) {
            return Ok(());
        }
        let how_far = match self.rebuilding() {
            Some(r) if r.total > 0 => format!(" ({}: {} of {})", r.index, r.done, r.total),
            _ => String::new(),
        };
        Err(Error::Unavailable(format!(
            "the search index is being rebuilt{how_far}; this needs every match, so it works \
             again when the rebuild is done (searches and lists work meanwhile)"
        )))
    }

    /// Rebuild the indexes that need it (contacts first: the chat search needs them), then
    /// catch up from the change log. Only one caller at a time: `open` or the indexer loop.
    pub fn finish_rebuild(&self, progress: &dyn Fn(&str, u64, u64)) -> Result<()> {
        let track = |what: &str, n: u64, total: u64| {
            self.rebuild.done.store(n, Ordering::Relaxed);
            self.rebuild.total.store(total, Ordering::Relaxed);
            progress(what, n, total);
        };
        let seqs = *self.rebuild.seqs.lock().unwrap_or_else(|p| p.into_inner());
        let cseq = match seqs.0 {
            Some(v) => v,
            None => {
                let v = self.rebuild_contacts(&track)?;
                self.rebuild
                    .seqs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .0 = Some(v);
                self.rebuild.contacts.store(false, Ordering::Release);
                v
            }
        };
        let mseq = match seqs.1 {
            Some(v) => v,
            None => {
                self.rebuild.done.store(0, Ordering::Relaxed);
                let v = self.rebuild_messages(&track)?;
                self.rebuild
                    .seqs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .1 = Some(v);
                self.rebuild.messages.store(false, Ordering::Release);
                v
            }
        };
        *self.applied.lock().unwrap_or_else(|p| p.into_inner()) = cseq.min(mseq);
        while self.apply()? > 0 {}
        Ok(())
    }

    /// Rebuild both indexes from the store (what `parley reindex` does).
    pub fn rebuild(&self, progress: &dyn Fn(&str, u64, u64)) -> Result<()> {
        let a = self.rebuild_contacts(progress)?;
        let b = self.rebuild_messages(progress)?;
        *self.applied.lock().unwrap_or_else(|p| p.into_inner()) = a.min(b);
        Ok(())
    }

    fn rebuild_contacts(&self, progress: &dyn Fn(&str, u64, u64)) -> Result<u64> {
        let f = self.contacts.fields;
        let started = std::time::Instant::now();
        self.contacts.auto_merge(false);
        // Merging is switched back on however the rebuild ends.
        let _merge_back = MergeBack(&self.contacts);
        let w = self.contacts.writer();
        w.delete_all_documents().map_err(terr)?;
        let mut n = 0u64;
        // The source reads one snapshot and returns its log position.
        let mut w = w;
        let mut shown = 0u64;
        let seq = self.source.scan_contacts(&mut |docs, total| {
            for d in &docs {
                w.add_document(contact_doc(&f, d)).map_err(terr)?;
                n += 1;
            }
            if n - shown >= PARTIAL_COMMIT {
                shown = n;
                self.contacts.commit_partial(&mut w)?;
            }
            progress("contacts", n, total);
            Ok(())
        })?;
        drop(w);
        self.contacts.commit(seq)?;
        self.contacts.merge_all();
        tracing::info!(
            "search: indexed {n} contacts in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(seq)
    }

    fn rebuild_messages(&self, progress: &dyn Fn(&str, u64, u64)) -> Result<u64> {
        let f = self.messages.fields;
        let started = std::time::Instant::now();
        let w = self.messages.writer();
        w.delete_all_documents().map_err(terr)?;
        let mut n = 0u64;
        let mut w = w;
        let mut shown = 0u64;
        let seq = self.source.scan_messages(&mut |docs, total| {
            for d in &docs {
                n += 1;
                if schema::searchable(&d.message) {
                    w.add_document(schema::message_doc(&f, &d.message, d.contact_id))
                        .map_err(terr)?;
                }
            }
            if n - shown >= PARTIAL_COMMIT {
                shown = n;
                self.messages.commit_partial(&mut w)?;
            }
            progress("messages", n, total);
            Ok(())
        })?;
        drop(w);
        self.messages.commit(seq)?;
        tracing::info!(
            "search: indexed {n} messages in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(seq)
    }

    /// Apply one batch of the change log; returns how many entries it applied. On failure
    /// nothing moves: uncommitted changes are dropped and the same entries come again.
    pub fn apply(&self) -> Result<usize> {
        let r = self.apply_batch();
        if r.is_err() {
            self.contacts.rollback();
            self.messages.rollback();
        }
        r
    }

    /// One round of the indexer loop: what the log holds now, and more only while batches
    /// come back full (a backlog). Under steady writes there is always something new by the
    /// time a commit ends; going on until nothing was left made the indexer commit and fsync
    /// both indexes ~25 times a second at 1,000 messages/s, and the store's own fsyncs
    /// queued behind those writes.
    fn apply_round(&self) -> Result<usize> {
        let mut n = 0;
        loop {
            let k = self.apply()?;
            n += k;
            if k < BATCH {
                return Ok(n);
            }
        }
    }

    fn apply_batch(&self) -> Result<usize> {
        let from = *self.applied.lock().unwrap_or_else(|p| p.into_inner());
        let (cf, mf) = (self.contacts.fields, self.messages.fields);
        let batch = self.source.changes(from, BATCH)?;
        if batch.entries == 0 {
            return Ok(0);
        }
        {
            let w = self.contacts.writer();
            for (id, doc) in &batch.contacts {
                w.delete_term(Term::from_field_u64(cf.id, *id));
                if let Some(d) = doc {
                    w.add_document(contact_doc(&cf, d)).map_err(terr)?;
                }
            }
        }
        {
            let w = self.messages.writer();
            for (id, doc) in &batch.messages {
                w.delete_term(Term::from_field_u64(mf.id, *id));
                if let Some(d) = doc
                    && schema::searchable(&d.message)
                {
                    w.add_document(schema::message_doc(&mf, &d.message, d.contact_id))
                        .map_err(terr)?;
                }
            }
        }
        self.contacts.commit(batch.last)?;
        self.messages.commit(batch.last)?;
        *self.applied.lock().unwrap_or_else(|p| p.into_inner()) = batch.last;
        Ok(batch.entries)
    }

    /// The indexer loop: apply the log whenever writes happen (at most ~4 times a second, so
    /// segments stay few), trim what both indexes hold.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        // While indexing keeps failing (a full disk), say so once, not every second.
        let mut failing = false;
        while self.rebuilding().is_some() {
            let started = std::time::Instant::now();
            tracing::info!(
                "search: rebuilding the index in the background; the server serves meanwhile"
            );
            let me = self.clone();
            let r = tokio::task::spawn_blocking(move || {
                me.finish_rebuild(&|what, n, total| {
                    if n == total || n % 100_000 == 0 {
                        tracing::info!("search: rebuilding the {what} index: {n}/{total}");
                    }
                })
            })
            .await;
            match r {
                Ok(Ok(())) => tracing::info!(
                    "search: index rebuilt in {:.1} s",
                    started.elapsed().as_secs_f64()
                ),
                Ok(Err(e)) => {
                    self.contacts.rollback();
                    self.messages.rollback();
                    if !failing {
                        tracing::error!("search: rebuilding the index failed (will retry): {e}");
                        failing = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                        _ = stop.changed() => return,
                    }
                }
                Err(e) => {
                    tracing::error!("search: the rebuild task failed: {e}");
                    return;
                }
            }
        }
        // Changes applied by the last round: under a burst of writes the indexer gathers
        // changes for longer, so it commits (and fsyncs, and later merges) less often and a
        // client who wrote ten times is indexed once; search still trails by about a second.
        let mut last_round = 0usize;
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(1000)) => {}
                _ = stop.changed() => return,
            }
            let gather = if last_round >= BUSY_ROUND {
                Duration::from_millis(800)
            } else {
                Duration::from_millis(200)
            };
            tokio::time::sleep(gather).await;
            let me = self.clone();
            let r = tokio::task::spawn_blocking(move || me.apply_round()).await;
            match r {
                Ok(Ok(n)) => {
                    last_round = n;
                    if failing {
                        tracing::info!("search: indexing works again");
                        failing = false;
                    }
                    let upto = self.applied();
                    loop {
                        match self.source.trim(upto, TRIM).await {
                            Ok(true) => break,
                            Ok(false) => tokio::task::yield_now().await,
                            // The writer already said the disk is full; it is retried
                            // after the next batch anyway.
                            Err(e @ Error::Unavailable(_)) => {
                                tracing::debug!("search: trimming the change log failed: {e}");
                                break;
                            }
                            Err(e) => {
                                tracing::warn!("search: trimming the change log failed: {e}");
                                break;
                            }
                        }
                    }
                }
                Ok(Err(e)) if !failing => {
                    tracing::error!("search: indexing failed (will retry every second): {e}");
                    failing = true;
                }
                Ok(Err(e)) => tracing::debug!("search: indexing still fails: {e}"),
                Err(e) => tracing::error!("search: indexer task failed: {e}"),
            }
        }
    }

    pub fn applied(&self) -> u64 {
        *self.applied.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait (at most `within`) until every change committed before the call is searchable,
    /// so a list narrowed right after a change (an assignment, a tag) shows it. Returns at
    /// once while the index is being rebuilt.
    pub async fn caught_up(&self, within: Duration) {
        if self.rebuilding().is_some() {
            return;
        }
        let Ok(target) = self.last_change() else {
            return;
        };
        let until = std::time::Instant::now() + within;
        while self.applied() < target && std::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sequence of the newest change committed to the store, searchable yet or not.
    pub fn last_change(&self) -> Result<u64> {
        self.source.last_change()
    }

    /// From the id column, not the stored documents: a stored document is read by
    /// decompressing its whole block, which was a tenth of a search's time.
    fn contact_ids(
        searcher: &tantivy::Searcher,
        addrs: impl Iterator<Item = DocAddress>,
    ) -> Result<Vec<u64>> {
        let mut columns: std::collections::HashMap<u32, tantivy::columnar::Column<u64>> =
            std::collections::HashMap::new();
        addrs
            .map(|a| {
                let column = match columns.entry(a.segment_ord) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(
                        searcher
                            .segment_reader(a.segment_ord)
                            .fast_fields()
                            .u64("id")
                            .map_err(terr)?,
                    ),
                };
                column
                    .first(a.doc_id)
                    .ok_or_else(|| Error::Corrupt("search document without id".into()))
            })
            .collect()
    }

    /// `contacts`, run off the async workers: a query reads index segments from disk and
    /// must not hold up the connections a worker serves.
    pub async fn find_contacts(
        self: &Arc<Self>,
        text: Option<String>,
        filter: Option<Filter>,
        section: Option<&'static str>,
        newest_first: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<u64>, usize)> {
        // As `Store::query`: hand the worker's other connections on rather than wait for a
        // blocking thread to wake up.
        if matches!(
            tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
            Ok(tokio::runtime::RuntimeFlavor::MultiThread)
        ) {
            return tokio::task::block_in_place(|| {
                self.contacts(
                    text.as_deref(),
                    filter.as_ref(),
                    section,
                    newest_first,
                    offset,
                    limit,
                )
            });
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            me.contacts(
                text.as_deref(),
                filter.as_ref(),
                section,
                newest_first,
                offset,
                limit,
            )
        })
        .await
        .map_err(|e| Error::Internal(format!("contact search task: {e}")))?
    }

    /// Contacts matching text and/or filter within a section. With text, best matches first;
    /// otherwise by last activity. Returns ids and the total count.
    pub fn contacts(
        &self,
        text: Option<&str>,
        filter: Option<&Filter>,
        section: Option<&str>,
        newest_first: bool,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<u64>, usize)> {
        // While the index is rebuilt this answers from what is indexed so far; the caller
        // says so (`rebuilding`), since a missing client may just not be indexed yet.
        let (q, scored) = self.contact_query(text, filter, section)?;
        let searcher = self.contacts.reader.searcher();
        let top = TopDocs::with_limit(limit.max(1)).and_offset(offset);
        if scored {
            // Best match first; among equals, who was active last.
            let by = ranked::BestRecent {
                field: "activity",
                offset,
                limit: limit.max(1),
            };
            let (hits, total) = searcher.search(&q, &by).map_err(terr)?;
            Ok((Self::contact_ids(&searcher, hits.into_iter())?, total))
        } else {
            let order = if newest_first {
                Order::Desc
            } else {
                Order::Asc
            };
            let (hits, total) = searcher
                .search(
                    &q,
                    &(top.order_by_fast_field::<i64>("activity", order), Count),
                )
                .map_err(terr)?;
            Ok((
                Self::contact_ids(&searcher, hits.into_iter().map(|(_, a)| a))?,
                total,
            ))
        }
    }

    /// The query for contacts matching text, filter and section; whether it scores (text).
    /// One flat boolean query: text clauses, then filter and section, which only narrow
    /// (they add nothing to a match's rank).
    fn contact_query(
        &self,
        text: Option<&str>,
        filter: Option<&Filter>,
        section: Option<&str>,
    ) -> Result<(Box<dyn Query>, bool)> {
        use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur};
        let f = &self.contacts.fields;
        let mut clauses = match text {
            Some(t) => query::contact_text(f, t)?.unwrap_or_default(),
            None => Vec::new(),
        };
        let scored = !clauses.is_empty();
        let narrow = |q: Box<dyn Query>| -> Box<dyn Query> {
            if scored {
                Box::new(ConstScoreQuery::new(q, 0.0))
            } else {
                q
            }
        };
        if let Some(q) = filter.and_then(|fl| query::contact_filter(f, fl)) {
            clauses.push((Occur::Must, narrow(q)));
        }
        if let Some(s) = section {
            let (occur, q) = query::section(f, s);
            clauses.push((occur, if occur == Occur::Must { narrow(q) } else { q }));
        }
        let positive = clauses.iter().any(|(o, _)| *o != Occur::MustNot);
        if !positive {
            // Only exclusions (the "all" section, no text or filter): everyone but those.
            clauses.push((Occur::Must, Box::new(tantivy::query::AllQuery)));
        }
        let q: Box<dyn Query> = match clauses.len() {
            1 if clauses[0].0 == Occur::Must => clauses.remove(0).1,
            _ => Box::new(BooleanQuery::new(clauses)),
        };
        Ok((q, scored))
    }

    /// Every contact the filter matches, as ids in ascending order, and how many matched;
    /// more than `cap` matches give no ids, only the count. One pass over the matches
    /// reading the `id` fast field (a broadcast to a million clients costs one query, not a
    /// thousand pages).
    pub fn all_contacts(&self, filter: &Filter, cap: usize) -> Result<(Vec<u64>, usize)> {
        self.matching(None, Some(filter), cap)
    }

    /// `all_contacts` for a text search and/or a filter (the Audience's "everyone matching"):
    /// no text and no filter is everyone.
    pub fn matching(
        &self,
        text: Option<&str>,
        filter: Option<&Filter>,
        cap: usize,
    ) -> Result<(Vec<u64>, usize)> {
        self.check_ready(&self.rebuild.contacts)?;
        let (q, _) = self.contact_query(text, filter, None)?;
        let searcher = self.contacts.reader.searcher();
        let (mut ids, matched) = searcher
            .search(&q, &ids::Ids { field: "id", cap })
            .map_err(terr)?;
        if matched > cap {
            return Ok((Vec::new(), matched));
        }
        ids.sort_unstable();
        ids.dedup();
        Ok((ids, matched))
    }

    /// `all_contacts`, run off the async workers.
    pub async fn find_all_contacts(
        self: &Arc<Self>,
        filter: Filter,
        cap: usize,
    ) -> Result<(Vec<u64>, usize)> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.all_contacts(&filter, cap))
            .await
            .map_err(|e| Error::Internal(format!("contact search task: {e}")))?
    }

    /// `matching`, run off the async workers.
    pub async fn find_matching(
        self: &Arc<Self>,
        text: Option<String>,
        filter: Option<Filter>,
        cap: usize,
    ) -> Result<(Vec<u64>, usize)> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.matching(text.as_deref(), filter.as_ref(), cap))
            .await
            .map_err(|e| Error::Internal(format!("contact search task: {e}")))?
    }

    /// Messages matching the words (the last one as a prefix), best first.
    pub fn messages(
        &self,
        text: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<MessageHit>, usize, Vec<String>)> {
        let f = self.messages.fields;
        let Some((q, words)) = query::message_text(&f, text)? else {
            return Ok((vec![], 0, vec![]));
        };
        let searcher = self.messages.reader.searcher();
        let (hits, total) = searcher
            .search(
                &q,
                &(
                    TopDocs::with_limit(limit.max(1))
                        .and_offset(offset)
                        .order_by_score(),
                    Count,
                ),
            )
            .map_err(terr)?;
        let mut out = Vec::with_capacity(hits.len());
        for (_, a) in hits {
            let d: TantivyDocument = searcher.doc(a).map_err(terr)?;
            let u = |fl| d.get_first(fl).and_then(|v| v.as_u64()).unwrap_or(0);
            out.push(MessageHit {
                message_id: u(f.id),
                chat_id: u(f.chat),
                contact_id: u(f.contact),
                kind: d
                    .get_first(f.kind)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string(),
                text: d
                    .get_first(f.body)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string(),
                created_ms: d.get_first(f.created).and_then(|v| v.as_i64()).unwrap_or(0),
            });
        }
        Ok((out, total, words))
    }

    pub fn stats(&self) -> (u64, u64) {
        (
            self.contacts.reader.searcher().num_docs(),
            self.messages.reader.searcher().num_docs(),
        )
    }

    pub fn disk_bytes(&self) -> u64 {
        fn size(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0)
        }
        size(&self.contacts.path) + size(&self.messages.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

    /// A change log that grows while it is read, as the store's does under steady writes.
    #[derive(Default)]
    struct Growing {
        head: AtomicU64,
        /// Entries logged meanwhile, per read.
        grow: AtomicU64,
        reads: AtomicUsize,
        on: AtomicBool,
    }

    impl Source for Growing {
        fn changes(&self, after: u64, limit: usize) -> Result<Changes> {
            let head = self.head.load(Ordering::SeqCst);
            let last = head.min(after + limit as u64);
            // Writes stop after a while, so a round that waits for an empty read ends too.
            if self.on.load(Ordering::SeqCst) && self.reads.fetch_add(1, Ordering::SeqCst) < 50 {
                self.head
                    .fetch_add(self.grow.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            Ok(Changes {
                last,
                entries: (last - after) as usize,
                contacts: vec![],
                messages: vec![],
            })
        }
        fn last_change(&self) -> Result<u64> {
            Ok(self.head.load(Ordering::SeqCst))
        }
        fn sizes(&self) -> Result<(u64, u64)> {
            Ok((0, 0))
        }
        fn scan_contacts(
            &self,
            _: &mut dyn FnMut(Vec<ContactDoc>, u64) -> Result<()>,
        ) -> Result<u64> {
            Ok(self.head.load(Ordering::SeqCst))
        }
        fn scan_messages(
            &self,
            _: &mut dyn FnMut(Vec<MessageDoc>, u64) -> Result<()>,
        ) -> Result<u64> {
            Ok(self.head.load(Ordering::SeqCst))
        }
        fn trim(&self, _: u64, _: usize) -> futures_util::future::BoxFuture<'_, Result<bool>> {
            Box::pin(async { Ok(true) })
        }
    }

    #[test]
    fn a_round_stops_at_a_partial_batch_while_writes_keep_coming() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(Growing::default());
        let s = Search::open(dir.path(), log.clone(), &|_, _, _| {}).unwrap();
        log.grow.store(7, Ordering::SeqCst);
        log.on.store(true, Ordering::SeqCst);

        // Five waiting, seven more logged during the commit: those wait for the next round.
        log.head.fetch_add(5, Ordering::SeqCst);
        assert_eq!(s.apply_round().unwrap(), 5);
        assert_eq!(log.reads.swap(0, Ordering::SeqCst), 1);
        assert_eq!(s.applied(), 5);

        // A backlog is applied back to back until a batch comes back short.
        log.head.fetch_add(BATCH as u64, Ordering::SeqCst);
        assert_eq!(s.apply_round().unwrap(), BATCH + 7 + 7);
        assert_eq!(log.reads.load(Ordering::SeqCst), 2);
    }
}
