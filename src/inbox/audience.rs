//! Audience (A1): CSV import, merging clients, likely duplicates, and the pages the export
//! streams (bulk actions are in `bulk`). An import runs in batches, one transaction each, so
//! the single writer is never held by it for more than a batch.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::clients::{manager_name, record_event};
use super::identity::first_linkable;
use super::{Inbox, emit_row, lists};
use crate::domain::csv;
use crate::domain::event::Event;
use crate::domain::inbox::Contact;
use crate::domain::manager::ManagerId;
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store::inbox::{self as db, InboxReads};
use crate::store::prelude::*;
use crate::store::{self, W};

use super::jobs::BATCH;
/// Errors an import report lists (all are counted).
const MAX_LISTED_ERRORS: usize = 1000;
/// Clients one merge may take in.
const MAX_MERGE: usize = 50;

// ---------- import ----------

/// What a CSV column holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    Name,
    Phone,
    Email,
    Tags,
    Field(String),
    Skip,
}

impl Column {
    /// A mapping's target as the API names it: `name`, `phone`, `email`, `tags`, `skip`,
    /// `field:<key>`.
    pub fn parse(s: &str) -> Result<Column> {
        Ok(match s {
            "name" => Column::Name,
            "phone" => Column::Phone,
            "email" => Column::Email,
            "tags" => Column::Tags,
            "skip" => Column::Skip,
            f => match f.strip_prefix("field:").map(str::trim) {
                Some(k) if !k.is_empty() && k.len() <= 64 => Column::Field(k.to_string()),
                _ => {
                    return Err(Error::invalid(
                        "map",
                        format!("{s:?}: use name, phone, email, tags, skip or field:<key>"),
                    ));
                }
            },
        })
    }

    /// What a header means when no mapping says otherwise. Columns the export writes that
    /// an import cannot set (ids, dates, channels, stage) are skipped, so an exported file
    /// imports back cleanly.
    pub fn guess(header: &str) -> Column {
        let h = header.trim().to_lowercase();
        match h.as_str() {
            "name" | "full name" | "client" | "имя" | "фио" | "клиент" => Column::Name,
            "phone" | "phones" | "telephone" | "mobile" | "телефон" | "телефоны" => {
                Column::Phone
            }
            "email" | "e-mail" | "emails" | "e-mails" | "mail" | "почта" => Column::Email,
            "tags" | "tag" | "теги" | "метки" => Column::Tags,
            "" | "id" | "channels" | "sales_plan" | "stage" | "assignee" | "created"
            | "last_activity" | "archived" | "blacklisted" => Column::Skip,
            _ => Column::Field(normalise::text(header, 64)),
        }
    }
}

/// One row of a file, checked.
#[derive(Clone, Debug, Default)]
struct Row {
    name: String,
    phones: Vec<String>,
    emails: Vec<String>,
    tags: Vec<String>,
    fields: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    /// (line, reason), at most `MAX_LISTED_ERRORS`.
    pub errors: Vec<(usize, String)>,
    pub error_count: u64,
    pub rows: u64,
}

impl ImportReport {
    fn error(&mut self, line: usize, why: String) {
        self.error_count += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push((line, why));
        }
    }
}

fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([',', ';', '|', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A record as a row, or why it cannot be one; None for a row with nothing in it.
fn check_row(fields: &[String], cols: &[Column]) -> Result<Option<Row>, String> {
    let mut row = Row::default();
    let mut any = false;
    for (i, col) in cols.iter().enumerate() {
        let cell = csv::unguard(fields.get(i).map_or("", |s| s.trim()));
        if cell.is_empty() || *col == Column::Skip {
            continue;
        }
        any = true;
        match col {
            Column::Name => row.name = normalise::text(cell, 200),
            Column::Phone => {
                for p in split_list(cell) {
                    let n = normalise::phone(p)
                        .ok_or_else(|| format!("phone “{p}” is not a phone number"))?;
                    if !row.phones.contains(&n) {
                        row.phones.push(n);
                    }
                }
            }
            Column::Email => {
                for e in split_list(cell) {
                    let n = normalise::email(e)
                        .ok_or_else(|| format!("e-mail “{e}” is not an e-mail address"))?;
                    if !row.emails.contains(&n) {
                        row.emails.push(n);
                    }
                }
            }
            Column::Tags => {
                for t in split_list(cell) {
                    let t = normalise::text(t, 64);
                    if !t.is_empty() && !row.tags.contains(&t) {
                        row.tags.push(t);
                    }
                }
            }
            Column::Field(k) => {
                if cell.len() > 4096 {
                    return Err(format!("field “{k}” is longer than 4 KiB"));
                }
                row.fields.insert(k.clone(), normalise::text(cell, 4096));
            }
            Column::Skip => {}
        }
    }
    if !any {
        return Ok(None);
    }
    if row.phones.is_empty() && row.emails.is_empty() {
        return Err("no phone or e-mail: rows are matched to clients by them".into());
    }
    if row.tags.len() > 100 {
        return Err("more than 100 tags".into());
    }
    Ok(Some(row))
}

/// Parse the file: the checked rows, and a report with the bad ones already counted.
fn parse(text: &str, map: &HashMap<String, Column>) -> Result<(Vec<Row>, ImportReport)> {
    let mut records = csv::Reader::new(text);
    let header = match records.next() {
        Some(Ok(h)) => h.fields,
        Some(Err(_)) | None => {
            return Err(Error::invalid(
                "body",
                "a CSV file with a header row (name, phone, email, tags, …)",
            ));
        }
    };
    let cols: Vec<Column> = header
        .iter()
        .map(|h| {
            let h = h.trim();
            map.get(h).cloned().unwrap_or_else(|| Column::guess(h))
        })
        .collect();
    if !cols
        .iter()
        .any(|c| matches!(c, Column::Phone | Column::Email))
    {
        return Err(Error::invalid(
            "body",
            "no phone or e-mail column (map one, or name a column phone or email)",
        ));
    }
    let mut report = ImportReport::default();
    let mut rows = Vec::new();
    for rec in records {
        match rec {
            Ok(rec) => {
                report.rows += 1;
                match check_row(&rec.fields, &cols) {
                    Ok(Some(r)) => rows.push(r),
                    Ok(None) => report.skipped += 1,
                    Err(why) => report.error(rec.line, why),
                }
            }
            Err(line) => report.error(line, "a quote opened here is never closed".into()),
        }
    }
    Ok((rows, report))
}

/// Where an import looks clients up and puts them: the write transaction, or (for a dry
/// run) a snapshot with what the run would have written so far kept beside it.
trait Book {
    fn by_phone(&self, p: &str) -> Result<Option<u64>>;
    fn by_email(&self, e: &str) -> Result<Option<u64>>;
    fn get(&self, id: u64) -> Result<Option<Contact>>;
    fn create(&mut self, c: Contact) -> Result<()>;
    fn update(&mut self, old: &Contact, new: Contact) -> Result<()>;
}

struct Live<'a, 'w> {
    w: &'a W<'w>,
    manager: u64,
    who: String,
    channels: &'a super::Channels,
}

impl Book for Live<'_, '_> {
    fn by_phone(&self, p: &str) -> Result<Option<u64>> {
        first_linkable(self.w, &self.w.contacts_by_phone(p)?)
    }
    fn by_email(&self, e: &str) -> Result<Option<u64>> {
        first_linkable(self.w, &self.w.contacts_by_email(e)?)
    }
    fn get(&self, id: u64) -> Result<Option<Contact>> {
        self.w.contact(id)
    }
    fn create(&mut self, c: Contact) -> Result<()> {
        let c = db::new_contact(self.w, c)?;
        let text = format!("{} imported the client from a CSV file", self.who);
        db::add_log(
            self.w,
            c.id,
            "imported",
            &text,
            Some(self.manager),
            c.created_ms,
        )?;
        Ok(())
    }
    fn update(&mut self, old: &Contact, new: Contact) -> Result<()> {
        db::put_contact(self.w, Some(old), &new)?;
        let text = format!("{} updated the client from a CSV file", self.who);
        db::add_log(
            self.w,
            new.id,
            "imported",
            &text,
            Some(self.manager),
            store::now_ms(),
        )?;
        if new.chat_count > 0 {
            emit_row(self.w, &new, self.channels)?;
        }
        Ok(())
    }
}

struct Dry<'a, T: Read> {
    r: &'a T,
    next: u64,
    contacts: HashMap<u64, Contact>,
    phones: HashMap<String, u64>,
    emails: HashMap<String, u64>,
}

impl<T: Read> Dry<'_, T> {
    fn remember(&mut self, c: Contact) {
        for p in &c.phones {
            self.phones.entry(p.clone()).or_insert(c.id);
        }
        for e in &c.emails {
            self.emails.entry(e.clone()).or_insert(c.id);
        }
        self.contacts.insert(c.id, c);
    }
}

impl<T: Read> Book for Dry<'_, T> {
    fn by_phone(&self, p: &str) -> Result<Option<u64>> {
        match first_linkable(self.r, &self.r.contacts_by_phone(p)?)? {
            Some(id) => Ok(Some(id)),
            None => Ok(self.phones.get(p).copied()),
        }
    }
    fn by_email(&self, e: &str) -> Result<Option<u64>> {
        match first_linkable(self.r, &self.r.contacts_by_email(e)?)? {
            Some(id) => Ok(Some(id)),
            None => Ok(self.emails.get(e).copied()),
        }
    }
    fn get(&self, id: u64) -> Result<Option<Contact>> {
        match self.contacts.get(&id) {
            Some(c) => Ok(Some(c.clone())),
            None => self.r.contact(id),
        }
    }
    fn create(&mut self, mut c: Contact) -> Result<()> {
        // Ids no stored contact has, so later rows of the file can match this one.
        self.next += 1;
        c.id = u64::MAX - self.next;
        self.remember(c);
        Ok(())
    }
    fn update(&mut self, _old: &Contact, new: Contact) -> Result<()> {
        self.remember(new);
        Ok(())
    }
}

/// Apply one row: create a client, add what is new to the one it matches, or nothing. A
/// client that several rows of the file match keeps the name of the first (`named` holds
/// the clients earlier rows matched or created), so importing the file again changes nothing.
fn apply_row(
    book: &mut impl Book,
    row: &Row,
    report: &mut ImportReport,
    named: &mut HashSet<String>,
) -> Result<()> {
    let mut found = None;
    for p in &row.phones {
        if found.is_none() {
            found = book.by_phone(p)?;
        }
    }
    for e in &row.emails {
        if found.is_none() {
            found = book.by_email(e)?;
        }
    }
    let existing = match found {
        Some(id) => book.get(id)?,
        None => None,
    };
    // Rows are keyed by what found them, not by id: a dry run's new clients have none yet.
    let key = row
        .phones
        .first()
        .map(|p| format!("p{p}"))
        .or_else(|| row.emails.first().map(|e| format!("e{e}")))
        .unwrap_or_default();
    let keys = |c: &Contact| {
        c.phones
            .iter()
            .map(|p| format!("p{p}"))
            .chain(c.emails.iter().map(|e| format!("e{e}")))
            .collect::<Vec<_>>()
    };
    let Some(old) = existing else {
        let now = store::now_ms();
        let name = if row.name.is_empty() {
            row.phones
                .first()
                .map(|p| format!("+{p}"))
                .or_else(|| row.emails.first().cloned())
                .unwrap_or_default()
        } else {
            row.name.clone()
        };
        let c = Contact {
            name,
            phones: row.phones.clone(),
            emails: row.emails.clone(),
            tags: row.tags.clone(),
            custom_fields: row.fields.clone(),
            created_ms: now,
            ..Contact::default()
        };
        named.extend(keys(&c));
        book.create(c)?;
        report.created += 1;
        return Ok(());
    };
    let mut c = old.clone();
    let first = !keys(&old).iter().any(|k| named.contains(k)) && !named.contains(&key);
    if !row.name.is_empty() && first {
        c.name.clone_from(&row.name);
    }
    for p in &row.phones {
        if !c.phones.contains(p) {
            c.phones.push(p.clone());
        }
    }
    for e in &row.emails {
        if !c.emails.contains(e) {
            c.emails.push(e.clone());
        }
    }
    for t in &row.tags {
        if !c.tags.contains(t) && c.tags.len() < 100 {
            c.tags.push(t.clone());
        }
    }
    for (k, v) in &row.fields {
        if c.custom_fields.len() < 100 || c.custom_fields.contains_key(k) {
            c.custom_fields.insert(k.clone(), v.clone());
        }
    }
    let same = c.name == old.name
        && c.phones == old.phones
        && c.emails == old.emails
        && c.tags == old.tags
        && c.custom_fields == old.custom_fields;
    named.extend(keys(&c));
    if same {
        report.skipped += 1;
    } else {
        book.update(&old, c)?;
        report.updated += 1;
    }
    Ok(())
}

/// How an import is asked for.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub dry_run: bool,
    /// Header → what the column holds; headers not named are guessed.
    pub map: HashMap<String, Column>,
    /// A job id to report progress under (the browser polls it while waiting).
    pub job: Option<String>,
}

impl Inbox {
    /// Import clients from CSV text. Rows are matched to clients by normalised phone, then
    /// e-mail (as channel ingest matches them); a match gains what the row adds, so the same
    /// file again changes nothing. A dry run reads one snapshot and writes nothing.
    pub async fn import_csv(
        &self,
        manager: ManagerId,
        text: String,
        opts: ImportOptions,
    ) -> Result<ImportReport> {
        let (rows, mut report) = parse(&text, &opts.map)?;
        drop(text);
        let total = rows.len() as u64;
        let job = match &opts.job {
            Some(id) => {
                let (j, evicted) =
                    self.jobs
                        .start(manager.0, Some(id.clone()), "import", total, None)?;
                let id = j.id.clone();
                if let Err(e) = self.save_job(Some(j), evicted).await {
                    self.jobs.finish(&id, Err(e.to_string()));
                    return Err(e);
                }
                Some(id)
            }
            None => None,
        };
        let out = if opts.dry_run {
            self.store
                .query(move |r| {
                    let mut book = Dry {
                        r,
                        next: 0,
                        contacts: HashMap::new(),
                        phones: HashMap::new(),
                        emails: HashMap::new(),
                    };
                    let mut named = HashSet::new();
                    for row in &rows {
                        apply_row(&mut book, row, &mut report, &mut named)?;
                    }
                    Ok(report)
                })
                .await
        } else {
            self.import_batches(manager.0, rows, report, job.as_deref())
                .await
        };
        if let Some(id) = &job {
            self.finish_job(id, out.as_ref().map(|_| ()).map_err(|e| e.to_string()))
                .await;
        }
        let mut report = out?;
        report.errors.sort_by_key(|(line, _)| *line);
        Ok(report)
    }

    async fn import_batches(
        &self,
        manager: u64,
        rows: Vec<Row>,
        mut report: ImportReport,
        job: Option<&str>,
    ) -> Result<ImportReport> {
        let total = rows.len() as u64;
        let mut done = 0u64;
        let mut rows = rows.into_iter().peekable();
        let mut named = HashSet::new();
        while rows.peek().is_some() {
            let batch: Vec<Row> = rows.by_ref().take(BATCH).collect();
            let n = batch.len() as u64;
            let base = (report.clone(), named.clone());
            let channels = self.channels.clone();
            let job_id = job.map(str::to_string);
            // The closure may run twice (group commit retries a failed batch alone), so it
            // starts from the report as it was before the batch each time.
            let out = self
                .store
                .write(move |w| {
                    let (mut rep, mut named) = base.clone();
                    let mut book = Live {
                        w,
                        manager,
                        who: manager_name(w, manager)?,
                        channels: &channels,
                    };
                    for row in &batch {
                        apply_row(&mut book, row, &mut rep, &mut named)?;
                    }
                    // The progress commits with the rows, so a restart reports how far it got.
                    if let Some(mut j) = job_id
                        .as_deref()
                        .map(|id| store::jobs::job(w, id))
                        .transpose()?
                        .flatten()
                    {
                        j.done = done + n;
                        j.failed = rep.error_count;
                        store::jobs::put_job(w, &j)?;
                    }
                    Ok((rep, named))
                })
                .await?;
            (report, named) = out;
            done += n;
            if let Some(id) = job {
                self.jobs.progress(id, total, done, report.error_count);
            }
        }
        Ok(report)
    }
}

// ---------- merge and duplicates ----------

/// A client who may be the same person, and why.
#[derive(Clone, Debug)]
pub struct Duplicate {
    pub contact: Contact,
    pub reasons: Vec<&'static str>,
}

/// Names compared as sets of words, ignoring case and order ("Smith Anna" = "anna smith").
fn name_words(n: &str) -> Vec<String> {
    let mut w: Vec<String> = n.split_whitespace().map(str::to_lowercase).collect();
    w.sort();
    w
}

impl Inbox {
    /// Merge `from` into `primary` in one transaction: their chats, phones, e-mails, tags,
    /// fields, tasks, dialogs, orders, funnel runs and log move to the primary (its own
    /// name and field values win); the merged-away ids answer 404 with the primary's id.
    pub async fn merge(&self, manager: ManagerId, primary: u64, from: Vec<u64>) -> Result<Contact> {
        let manager = manager.0;
        let mut seen = HashSet::new();
        let from: Vec<u64> = from.into_iter().filter(|id| seen.insert(*id)).collect();
        if from.is_empty() || from.len() > MAX_MERGE {
            return Err(Error::invalid(
                "from",
                format!("1–{MAX_MERGE} client ids to merge in"),
            ));
        }
        if from.contains(&primary) {
            return Err(Error::invalid(
                "from",
                "a client cannot be merged into itself",
            ));
        }
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                let old = w.contact_or_404(primary)?;
                let mut p = old.clone();
                let who = manager_name(w, manager)?;
                let mut names = Vec::new();
                let mut tombs = Vec::new();
                let mut orders = Vec::new();
                for &id in &from {
                    let o = match w.contact_or_404(id) {
                        Ok(c) => c,
                        Err(Error::Merged { into, .. }) => {
                            return Err(Error::invalid(
                                "from",
                                format!("client {id} was already merged into {into}"),
                            ));
                        }
                        Err(Error::NotFound(_)) => {
                            return Err(Error::invalid("from", format!("no client {id}")));
                        }
                        Err(e) => return Err(e),
                    };
                    let moved = db::move_contact(w, &o, primary)?;
                    absorb(w, &mut p, &o)?;
                    names.push(format!(
                        "{} (#{}: {} chats, {} tasks, {} orders)",
                        o.name,
                        o.id,
                        moved.chats,
                        moved.tasks,
                        moved.orders.len()
                    ));
                    orders.extend(moved.orders);
                    tombs.push(o);
                }
                let text = format!("{who} merged {} into this client", names.join(", "));
                record_event(w, &mut p, "merged", &text, Some(manager))?;
                db::put_contact(w, Some(&old), &p)?;
                for mut t in tombs {
                    // The merged-away row leaves every open list: it is gone, not archived.
                    t.archived = true;
                    t.chat_count = 0;
                    let row = lists::row(w, &t, &channels)?;
                    w.emit(None, Event::RowChanged(row))?;
                }
                w.emit(None, Event::ContactUpdated(p.clone()))?;
                emit_row(w, &p, &channels)?;
                for id in orders {
                    if let Some(o) = db::order(w, id)? {
                        super::orders::emit_order(w, o)?;
                    }
                }
                Ok(p)
            })
            .await
    }

    /// Likely duplicates of a client: the same normalised phone or e-mail, or the same name
    /// among `named` (ids a name search found). Pairs a manager dismissed are left out.
    pub async fn duplicates(&self, id: u64, named: Vec<u64>) -> Result<Vec<Duplicate>> {
        self.store
            .query(move |r| {
                let c = r.contact_or_404(id)?;
                let mut found: BTreeMap<u64, Vec<&'static str>> = BTreeMap::new();
                for p in &c.phones {
                    for o in r.contacts_by_phone(p)? {
                        found.entry(o).or_default().push("same phone");
                    }
                }
                for e in &c.emails {
                    for o in r.contacts_by_email(e)? {
                        found.entry(o).or_default().push("same e-mail");
                    }
                }
                let words = name_words(&c.name);
                let mut out = Vec::new();
                let mut named_contacts = HashMap::new();
                for o in named {
                    if let Some(other) = r.contact(o)?
                        && !words.is_empty()
                        && name_words(&other.name) == words
                    {
                        found.entry(o).or_default().push("similar name");
                        named_contacts.insert(o, other);
                    }
                }
                for (o, mut reasons) in found {
                    if o == id || db::merge_suggestion(r, id, o)?.is_some_and(|s| s.dismissed) {
                        continue;
                    }
                    let contact = match named_contacts.remove(&o) {
                        Some(c) => c,
                        None => match r.contact(o)? {
                            Some(c) => c,
                            None => continue,
                        },
                    };
                    reasons.dedup();
                    out.push(Duplicate { contact, reasons });
                }
                Ok(out)
            })
            .await
    }
}

/// Fold another client's details into the primary (whose own values win).
fn absorb(w: &W, p: &mut Contact, o: &Contact) -> Result<()> {
    if p.name.trim().is_empty() {
        p.name.clone_from(&o.name);
    }
    for v in &o.phones {
        if !p.phones.contains(v) {
            p.phones.push(v.clone());
        }
    }
    for v in &o.emails {
        if !p.emails.contains(v) {
            p.emails.push(v.clone());
        }
    }
    for t in &o.tags {
        if !p.tags.contains(t) && p.tags.len() < 100 {
            p.tags.push(t.clone());
        }
    }
    for (k, v) in &o.custom_fields {
        p.custom_fields
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    if p.sales_plan.is_none() {
        p.sales_plan.clone_from(&o.sales_plan);
    }
    if p.assignee.is_none() {
        p.assignee = o.assignee;
    }
    p.blacklisted |= o.blacklisted;
    p.marked |= o.marked;
    p.created_ms = p.created_ms.min(o.created_ms);
    p.last_activity_ms = p.last_activity_ms.max(o.last_activity_ms);
    p.unread += o.unread;
    p.open_tasks += o.open_tasks;
    p.chat_count += o.chat_count;
    match (p.open_dialog, o.open_dialog) {
        (None, Some(d)) => p.open_dialog = Some(d),
        // Two open dialogs: the primary's stays open, the other one ends here.
        (Some(_), Some(d)) => {
            if let Some(mut dl) = w.dialog(d)? {
                dl.closed_ms = Some(store::now_ms());
                db::put_dialog(w, &dl)?;
            }
        }
        _ => {}
    }
    Ok(())
}

// ---------- reads for the table and the export ----------

/// A client as the Audience table and the export show it.
#[derive(Clone, Debug)]
pub struct AudienceRow {
    pub contact: Contact,
    /// Channel display names of the client's chats.
    pub channels: Vec<String>,
    /// The stage of the client's latest order.
    pub stage: Option<String>,
    pub assignee: Option<String>,
}

impl Inbox {
    /// Rows for these ids, in the order given (ids no longer there are left out).
    pub async fn audience_rows(&self, ids: Vec<u64>) -> Result<Vec<AudienceRow>> {
        let channels = self.channels.clone();
        self.store
            .query(move |r| {
                let mut plans = HashMap::new();
                let mut managers = HashMap::new();
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    let Some(c) = r.contact(id)? else { continue };
                    out.push(audience_row(r, c, &channels, &mut plans, &mut managers)?);
                }
                Ok(out)
            })
            .await
    }

    /// Every client in id order after `after`, `limit` at a time (the unfiltered export).
    pub async fn audience_page(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<AudienceRow>, Option<u64>)> {
        let channels = self.channels.clone();
        self.store
            .query(move |r| {
                let key = after.map(|a| a.to_be_bytes());
                let page = db::contacts_after(r, key.as_ref().map(|k| k.as_slice()), limit)?;
                let next = (page.len() == limit)
                    .then(|| page.last().map(|(_, c)| c.id))
                    .flatten();
                let mut plans = HashMap::new();
                let mut managers = HashMap::new();
                let rows = page
                    .into_iter()
                    .map(|(_, c)| audience_row(r, c, &channels, &mut plans, &mut managers))
                    .collect::<Result<Vec<_>>>()?;
                Ok((rows, next))
            })
            .await
    }

    /// The custom-field names the given clients use (all clients when None), sorted: the
    /// export's extra columns.
    pub async fn field_names(&self, ids: Option<Vec<u64>>) -> Result<Vec<String>> {
        self.store
            .query(move |r| {
                let mut names = std::collections::BTreeSet::new();
                match ids {
                    Some(ids) => {
                        for id in ids {
                            if let Some(c) = r.contact(id)? {
                                names.extend(c.custom_fields.into_keys());
                            }
                        }
                    }
                    None => {
                        let mut after: Option<Vec<u8>> = None;
                        loop {
                            let page = db::contacts_after(r, after.as_deref(), 2000)?;
                            let Some((last, _)) = page.last() else { break };
                            after = Some(last.clone());
                            for (_, c) in page {
                                names.extend(c.custom_fields.into_keys());
                            }
                        }
                    }
                }
                Ok(names.into_iter().take(200).collect())
            })
            .await
    }
}

fn audience_row<T: Read>(
    r: &T,
    c: Contact,
    channels: &super::Channels,
    plans: &mut HashMap<String, Option<crate::store::saved::Plan>>,
    managers: &mut HashMap<u64, Option<String>>,
) -> Result<AudienceRow> {
    let chans = if c.chat_count > 0 {
        let mut v: Vec<String> = r
            .contact_chats(c.id)?
            .iter()
            .map(|ch| channels.name(&ch.channel_id))
            .collect();
        v.dedup();
        v
    } else {
        Vec::new()
    };
    let stage = match db::latest_order(r, c.id)? {
        Some(o) => {
            let key = o.plan.to_lowercase();
            if !plans.contains_key(&key) {
                plans.insert(key.clone(), crate::store::saved::plan(r, &o.plan)?);
            }
            plans
                .get(&key)
                .and_then(|p| p.as_ref())
                .and_then(|p| p.stage(o.stage))
                .map(|s| s.name.clone())
        }
        None => None,
    };
    let assignee = match c.assignee {
        Some(id) => {
            if let std::collections::hash_map::Entry::Vacant(e) = managers.entry(id) {
                e.insert(r.manager(id)?.map(|m| m.name));
            }
            managers.get(&id).cloned().flatten()
        }
        None => None,
    };
    Ok(AudienceRow {
        contact: c,
        channels: chans,
        stage,
        assignee,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_guessed_and_export_only_columns_skipped() {
        assert_eq!(Column::guess(" Phone "), Column::Phone);
        assert_eq!(Column::guess("E-mail"), Column::Email);
        assert_eq!(Column::guess("Телефон"), Column::Phone);
        assert_eq!(Column::guess("last_activity"), Column::Skip);
        assert_eq!(Column::guess("City"), Column::Field("City".into()));
        assert_eq!(
            Column::parse("field:City").unwrap(),
            Column::Field("City".into())
        );
        assert!(Column::parse("field:").is_err() && Column::parse("nope").is_err());
    }

    #[test]
    fn rows_are_checked_with_their_reasons() {
        let cols = [Column::Name, Column::Phone, Column::Email, Column::Tags];
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let r = check_row(
            &f(&["Ann", "+7 912 345-67-89; 8 912 345 67 89", "", "a, b"]),
            &cols,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            r.phones,
            vec!["79123456789"],
            "two forms of one number are one"
        );
        assert_eq!(r.tags, vec!["a", "b"]);
        let e = check_row(&f(&["Bo", "12ab", "", ""]), &cols).unwrap_err();
        assert!(e.contains("12ab"), "{e}");
        let e = check_row(&f(&["Bo", "", "", ""]), &cols).unwrap_err();
        assert!(e.contains("no phone or e-mail"), "{e}");
        assert!(check_row(&f(&["", "", "", ""]), &cols).unwrap().is_none());
        assert!(check_row(&f(&["X", "", "not-mail", ""]), &cols).is_err());
    }
}
