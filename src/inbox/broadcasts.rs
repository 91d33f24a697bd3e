//! Broadcasts (B3) as use cases: create one for a list of clients (the HTTP layer resolves
//! the filter with the search index), send to one client at a time (`automation::broadcasts`
//! paces the calls per platform), pause, resume, cancel, and report what became of each.
//! Each client's send is one transaction that also records it, so a restart neither skips
//! nor repeats anyone.
//!
//! A new broadcast's clients are stored in transactions of `TARGET_BATCH` rows, so a
//! broadcast to a million clients does not hold the single writer (and every other write)
//! for seconds; its own row is written last, and the sender only looks at broadcasts that
//! have one, so no client is sent to before every client is stored.

use super::{Inbox, emit_row};
use crate::domain::automation::{Run, RunState};
use crate::domain::broadcast::{Broadcast, BroadcastState, Payload, Target, WaTemplate};
use crate::domain::inbox::{Chat, Status};
use crate::domain::manager::ManagerId;
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store::automation as db_auto;
use crate::store::broadcasts as db_b;
use crate::store::inbox::{self as db, InboxReads};
use crate::store::{self, W};

/// How many clients one broadcast may reach.
pub const MAX_TARGETS: usize = 1_000_000;
/// Clients stored per transaction when a broadcast is created: big enough that a million
/// take a few hundred commits, small enough that other writes wait milliseconds between.
pub const TARGET_BATCH: usize = 5_000;

/// The chat a broadcast reaches a client in: the enabled one the client wrote in last
/// (for a WhatsApp template, the last WhatsApp one), or why there is none.
fn broadcast_chat(
    chats: Vec<Chat>,
    whatsapp_only: bool,
) -> std::result::Result<Chat, &'static str> {
    let mut open = chats.into_iter().filter(|c| !c.disabled).peekable();
    if open.peek().is_none() {
        return Err("no chat that takes bot messages");
    }
    open.filter(|c| !whatsapp_only || c.channel_kind == "whatsapp")
        .max_by_key(|c| c.last_inbound_ms)
        .ok_or("not a WhatsApp chat")
}

/// Count one more client of `b` as handled, finishing the broadcast with the last one.
fn count_handled(b: &mut Broadcast, contact_id: u64) {
    b.handled += 1;
    b.cursor = b.cursor.max(contact_id);
    if b.handled >= b.total {
        b.state = BroadcastState::Done;
        b.finished_ms = Some(store::now_ms());
    }
}

/// What became of a broadcast's clients.
#[derive(Debug, Default)]
pub struct Report {
    pub pending: u64,
    pub queued: u64,
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
    pub started: u64,
    pub skipped: u64,
    /// Reasons for failures and skips, with how many clients each.
    pub reasons: Vec<(String, u64)>,
}

fn add_reason(reasons: &mut Vec<(String, u64)>, why: &str) {
    match reasons.iter_mut().find(|(r, _)| r == why) {
        Some((_, n)) => *n += 1,
        None => reasons.push((why.to_string(), 1)),
    }
}

/// Handle one client of a running broadcast in `chat_id`: queue the message or start the
/// funnel, or record why not. Returns whether a message was queued.
fn send_one(
    w: &W,
    b: &Broadcast,
    contact_id: u64,
    templates: &[(String, String)],
    channels: &super::Channels,
) -> Result<bool> {
    let skip = |why: &str| -> Result<bool> {
        db_b::put_target(w, b.id, contact_id, &Target::Skipped { reason: why.into() })?;
        Ok(false)
    };
    let Some(before) = w.contact(contact_id)? else {
        return skip("the client was deleted");
    };
    let mut contact = before.clone();
    let mut chat = match broadcast_chat(
        w.contact_chats(contact_id)?,
        matches!(b.payload, Payload::WhatsAppTemplate(_)),
    ) {
        Ok(c) => c,
        Err(why) => return skip(why),
    };
    if contact.blacklisted {
        return skip("the client is blacklisted");
    }
    if chat.bot_disabled {
        return skip("bot messages are off in the chat");
    }
    if chat.unreachable {
        return skip("the client cannot be reached");
    }
    let now = store::now_ms();
    let who = super::automation::manager_name(w, &contact)?;
    let vars = crate::domain::automation::Vars::of(&contact, who.as_deref());
    let render = |text: &str| {
        normalise::text(
            &crate::domain::automation::render(text, &vars),
            crate::domain::inbox::MAX_MESSAGE_TEXT,
        )
    };
    // A message: its text for the history, and the template the outbox sends instead.
    let (body, wa_template) = match &b.payload {
        Payload::Funnel(fid) => return start_funnel(w, b, contact_id, *fid, chat.id),
        Payload::Text(t) => (render(t), None),
        Payload::Template(name) => {
            match templates
                .iter()
                .find(|(n, _)| crate::domain::normalise::same_text(n, name))
            {
                Some((_, t)) => (render(t), None),
                None => return skip("the template was removed"),
            }
        }
        Payload::WhatsAppTemplate(t) => {
            let mut params = Vec::with_capacity(t.params.len());
            for (i, p) in t.params.iter().enumerate() {
                let v = render(p);
                if v.is_empty() {
                    return skip(&format!(
                        "template parameter {} is empty for this client",
                        i + 1
                    ));
                }
                params.push(v);
            }
            let sent = WaTemplate {
                name: t.name.clone(),
                language: t.language.clone(),
                params,
            };
            let text = normalise::text(&sent.summary(), crate::domain::inbox::MAX_MESSAGE_TEXT);
            (text, Some(sent))
        }
    };
    if body.is_empty() {
        return skip("the message is empty for this client");
    }
    let m = super::automation::queue_bot(
        w,
        &mut chat,
        &mut contact,
        body,
        &format!("broadcast:{}", b.id),
        now,
    )?;
    if let Some(t) = &wa_template {
        db::put_wa_template(w, m, t)?;
    }
    db_b::put_target(
        w,
        b.id,
        contact_id,
        &Target::Queued {
            chat_id: chat.id,
            message_id: m,
        },
    )?;
    db::put_chat(w, &chat)?;
    db::put_contact(w, Some(&before), &contact)?;
    emit_row(w, &contact, channels)?;
    Ok(true)
}

/// Start funnel `fid` for the client in `chat_id`, or record why not.
fn start_funnel(w: &W, b: &Broadcast, contact_id: u64, fid: u64, chat_id: u64) -> Result<bool> {
    let skip = |why: &str| -> Result<bool> {
        db_b::put_target(w, b.id, contact_id, &Target::Skipped { reason: why.into() })?;
        Ok(false)
    };
    let Some(f) = db_auto::funnel(w, fid)? else {
        return skip("the funnel was deleted");
    };
    if db_auto::contact_runs(w, contact_id)?
        .iter()
        .any(|r| r.funnel_id == f.id && r.state.is_active())
    {
        return skip("already in the funnel");
    }
    let Some(first) = f.first() else {
        return skip("the funnel has no steps");
    };
    let now = store::now_ms();
    let mut run = Run {
        id: 0,
        funnel_id: f.id,
        contact_id,
        chat_id: Some(chat_id),
        path: first,
        state: RunState::Waiting { due_ms: now },
        started_ms: now,
        updated_ms: now,
    };
    db_auto::put_run(w, None, &mut run)?;
    db_b::put_target(w, b.id, contact_id, &Target::Started { run_id: run.id })?;
    Ok(false)
}

impl Inbox {
    /// A broadcast of `payload` to `contacts` (the filter's matches), started at once.
    pub async fn create_broadcast(
        &self,
        manager: ManagerId,
        name: String,
        payload: Payload,
        mut contacts: Vec<u64>,
    ) -> Result<Broadcast> {
        let name = normalise::text(&name, 100);
        match &payload {
            Payload::Text(t) => {
                if normalise::text(t, crate::domain::inbox::MAX_MESSAGE_TEXT).is_empty() {
                    return Err(Error::invalid("text", "write something"));
                }
                crate::domain::automation::check_template(t)
                    .map_err(|m| Error::invalid("text", m))?;
            }
            Payload::Template(n) => {
                if !self
                    .templates
                    .all()
                    .iter()
                    .any(|(t, _)| crate::domain::normalise::same_text(t, n))
                {
                    return Err(Error::invalid(
                        "template",
                        format!("no chat template {n:?} (Variables lists them)"),
                    ));
                }
            }
            Payload::WhatsAppTemplate(t) => t.check("whatsapp_template")?,
            Payload::Funnel(_) => {}
        }
        if contacts.len() > MAX_TARGETS {
            return Err(Error::invalid(
                "filter",
                format!("matches more than {MAX_TARGETS} clients"),
            ));
        }
        contacts.sort_unstable();
        contacts.dedup();
        let check = payload.clone();
        let id = self
            .store
            .write(move |w| {
                if let Payload::Funnel(fid) = &check
                    && db_auto::funnel(w, *fid)?.is_none()
                {
                    return Err(Error::invalid("funnel", format!("no funnel {fid}")));
                }
                db_b::next_broadcast_id(w)
            })
            .await?;
        // Rows of a broadcast whose own row never gets written (the process died midway)
        // are never read: nothing lists or sends a broadcast without its row.
        for batch in contacts.chunks(TARGET_BATCH) {
            let batch = batch.to_vec();
            self.store
                .write(move |w| {
                    for c in &batch {
                        db_b::put_target(w, id, *c, &Target::Pending)?;
                    }
                    Ok(())
                })
                .await?;
        }
        let total = contacts.len() as u64;
        let b = self
            .store
            .write(move |w| {
                let mut b = Broadcast {
                    id,
                    name: name.clone(),
                    payload: payload.clone(),
                    state: BroadcastState::Running,
                    total,
                    handled: 0,
                    cursor: 0,
                    created_ms: store::now_ms(),
                    created_by: manager.0,
                    finished_ms: None,
                };
                if total == 0 {
                    b.state = BroadcastState::Done;
                    b.finished_ms = Some(b.created_ms);
                }
                db_b::put_broadcast(w, &mut b)?;
                Ok(b)
            })
            .await?;
        self.broadcast_wake.notify_one();
        Ok(b)
    }

    pub async fn broadcasts(&self) -> Result<Vec<Broadcast>> {
        self.store.query(db_b::broadcasts).await
    }

    /// A broadcast and what became of its clients (their messages' statuses as of now).
    pub async fn broadcast_report(&self, id: u64) -> Result<(Broadcast, Report)> {
        self.store
            .query(move |r| {
                let b = db_b::broadcast(r, id)?
                    .ok_or_else(|| Error::NotFound(format!("broadcast {id}")))?;
                let mut rep = Report::default();
                let mut after = None;
                loop {
                    let page = db_b::targets(r, id, after, 1000)?;
                    let Some((last, _)) = page.last() else { break };
                    after = Some(*last);
                    for (_, t) in page {
                        match t {
                            Target::Pending => rep.pending += 1,
                            Target::Started { .. } => rep.started += 1,
                            Target::Skipped { reason } => {
                                rep.skipped += 1;
                                add_reason(&mut rep.reasons, &reason);
                            }
                            Target::Failed { reason } => {
                                rep.failed += 1;
                                add_reason(&mut rep.reasons, &reason);
                            }
                            Target::Queued {
                                chat_id,
                                message_id,
                            } => match r.message(chat_id, message_id)? {
                                Some(m) => match m.status {
                                    Some(Status::Sent) => rep.sent += 1,
                                    Some(Status::Delivered) => rep.delivered += 1,
                                    Some(Status::Read) => rep.read += 1,
                                    Some(Status::Failed) => {
                                        rep.failed += 1;
                                        add_reason(
                                            &mut rep.reasons,
                                            m.error.as_deref().unwrap_or("failed"),
                                        );
                                    }
                                    _ => rep.queued += 1,
                                },
                                None => rep.queued += 1,
                            },
                        }
                    }
                }
                Ok((b, rep))
            })
            .await
    }

    /// Pause, resume or cancel a broadcast. Cancelled and finished ones stay as they are.
    pub async fn set_broadcast_state(&self, id: u64, to: BroadcastState) -> Result<Broadcast> {
        let b = self
            .store
            .write(move |w| {
                let mut b = db_b::broadcast(w, id)?
                    .ok_or_else(|| Error::NotFound(format!("broadcast {id}")))?;
                if matches!(b.state, BroadcastState::Cancelled | BroadcastState::Done) {
                    return Err(Error::Conflict(format!(
                        "the broadcast is {} already",
                        b.state.as_str()
                    )));
                }
                b.state = to;
                if to == BroadcastState::Cancelled {
                    b.finished_ms = Some(store::now_ms());
                }
                db_b::put_broadcast(w, &mut b)?;
                Ok(b)
            })
            .await?;
        self.broadcast_wake.notify_one();
        Ok(b)
    }

    /// Running broadcasts and up to `limit` of the clients each has next.
    pub async fn broadcast_work(&self, limit: usize) -> Result<Vec<BroadcastWork>> {
        self.store
            .query(move |r| {
                let mut out = Vec::new();
                for b in db_b::broadcasts(r)? {
                    if b.state != BroadcastState::Running {
                        continue;
                    }
                    let mut next: Vec<u64> = db_b::targets(r, b.id, Some(b.cursor), limit)?
                        .into_iter()
                        .filter(|(c, t)| *c > b.cursor && *t == Target::Pending)
                        .map(|(c, _)| c)
                        .collect();
                    if next.is_empty() && b.handled < b.total {
                        next = stranded(r, b.id, limit)?;
                    }
                    out.push(BroadcastWork {
                        id: b.id,
                        paced: !matches!(b.payload, Payload::Funnel(_)),
                        whatsapp: matches!(b.payload, Payload::WhatsAppTemplate(_)),
                        next,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// The channel kind a broadcast would reach this client on (for pacing), if any.
    pub async fn broadcast_channel(&self, contact_id: u64) -> Result<Option<String>> {
        self.store
            .query(move |r| {
                Ok(broadcast_chat(r.contact_chats(contact_id)?, false)
                    .ok()
                    .map(|c| c.channel_kind))
            })
            .await
    }

    /// Handle the broadcast's next client, if it is still running and this is that client.
    /// A send that fails in the store counts the client as failed, so the broadcast still
    /// finishes; only a store that is unavailable leaves the client for a later round.
    pub async fn broadcast_send(&self, id: u64, contact_id: u64) -> Result<()> {
        let templates = self.templates.all();
        let channels = self.channels.clone();
        let sent = self
            .store
            .write(move |w| {
                let Some(mut b) = db_b::broadcast(w, id)? else {
                    return Ok((false, false));
                };
                if b.state != BroadcastState::Running
                    || !matches!(db_b::target(w, id, contact_id)?, Some(Target::Pending))
                {
                    return Ok((false, false));
                }
                let queued = send_one(w, &b, contact_id, &templates, &channels)?;
                count_handled(&mut b, contact_id);
                db_b::put_broadcast(w, &mut b)?;
                Ok((queued, matches!(b.payload, Payload::Funnel(_))))
            })
            .await;
        let (queued, started) = match sent {
            Ok(v) => v,
            Err(e @ Error::Unavailable(_)) => return Err(e),
            Err(e) => {
                tracing::warn!("broadcast {id}: client {contact_id} failed: {e}");
                return self.broadcast_failed(id, contact_id, e.to_string()).await;
            }
        };
        if queued {
            self.outbox_wake.notify_one();
        }
        if started {
            self.automation_wake.notify_one();
        }
        Ok(())
    }

    /// Record that handling this client failed (its own transaction was rolled back).
    async fn broadcast_failed(&self, id: u64, contact_id: u64, reason: String) -> Result<()> {
        self.store
            .write(move |w| {
                let Some(mut b) = db_b::broadcast(w, id)? else {
                    return Ok(());
                };
                if matches!(b.state, BroadcastState::Cancelled | BroadcastState::Done)
                    || !matches!(db_b::target(w, id, contact_id)?, Some(Target::Pending))
                {
                    return Ok(());
                }
                let reason = reason.clone();
                db_b::put_target(w, id, contact_id, &Target::Failed { reason })?;
                count_handled(&mut b, contact_id);
                db_b::put_broadcast(w, &mut b)?;
                Ok(())
            })
            .await
    }
}

/// What the sender does next for one running broadcast.
#[derive(Debug)]
pub struct BroadcastWork {
    pub id: u64,
    /// Messages are paced per platform; funnel starts are not (their sends go through the
    /// outbox one step at a time).
    pub paced: bool,
    /// A WhatsApp template: every send goes out on WhatsApp.
    pub whatsapp: bool,
    /// Clients still pending, in contact id order.
    pub next: Vec<u64>,
}

/// Up to `limit` clients still pending anywhere in the broadcast. Sends commit out of order,
/// so the cursor can pass a client whose send was refused (the store was unavailable); once
/// nothing is left after the cursor, they are found from the start.
fn stranded<T: crate::store::Read>(r: &T, id: u64, limit: usize) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = db_b::targets(r, id, after, 1000)?;
        let Some((last, _)) = page.last() else {
            return Ok(out);
        };
        after = Some(*last);
        for (c, t) in page {
            if t == Target::Pending {
                out.push(c);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
    }
}
