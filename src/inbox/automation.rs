//! Funnels (B1) as use cases: keeping funnels, starting a client's run when a trigger fires,
//! and advancing a run through its steps. A trigger starts its runs in the same transaction
//! as the message or change that fired it, and each advance of a run (its system messages,
//! its bot messages with their deliveries, its next due time) is one transaction, so a step
//! happens exactly once however the process stops. `automation::Scheduler` fires due runs.

use std::sync::{Arc, RwLock};

use super::{Inbox, emit_message, emit_row};
use crate::domain::automation::{self as auto, Funnel, Run, RunState, Step, Trigger};
use crate::domain::event::Event;
use crate::domain::inbox::{Chat, Contact, Delivery, Kind, Message, Status};
use crate::domain::manager::ManagerId;
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store::automation as db_auto;
use crate::store::inbox::{self as db, InboxReads};
use crate::store::prelude::*;
use crate::store::{self, W};

/// How long a run waits for its webhook call before the scheduler tries the step again
/// (a process that stopped mid-call): longer than the call with its retries can take.
pub const WEBHOOK_LEASE_MS: i64 = 120_000;

/// Steps one advance runs at most before it saves the run and yields (a long funnel
/// without delays still cannot hold the writer).
const MAX_STEPS_PER_ADVANCE: usize = 50;

/// The enabled funnels as of the last change, read by every trigger without a table scan.
#[derive(Default)]
pub struct Funnels(RwLock<Arc<Vec<Funnel>>>);

impl Funnels {
    fn get(&self) -> Arc<Vec<Funnel>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, all: Vec<Funnel>) {
        let on: Vec<Funnel> = all.into_iter().filter(|f| f.enabled).collect();
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(on);
    }
}

/// A chat template's text by name (case-insensitive).
fn template_text<'a>(templates: &'a [(String, String)], name: &str) -> Option<&'a str> {
    templates
        .iter()
        .find(|(n, _)| n.to_lowercase() == name.trim().to_lowercase())
        .map(|(_, t)| t.as_str())
}

/// What fired, for the funnels listening to it.
pub(crate) enum Fired<'a> {
    /// A client's message; `first` when it is their first in this chat.
    Message {
        text: &'a str,
        first: bool,
    },
    Subscribed,
    TagAdded(&'a str),
}

/// A webhook step reached by a run: what to POST, and where. The run is parked with a
/// lease (`WEBHOOK_LEASE_MS`) until `Inbox::webhook_done` records the answer and moves on,
/// so the call is made at least once, and again only if the process stopped mid-call (the
/// receiver dedupes with `key`).
#[derive(Clone, Debug)]
pub struct WebhookCall {
    pub run_id: u64,
    pub path: auto::StepPath,
    pub url: String,
    pub funnel_id: u64,
    pub funnel_name: String,
    pub contact: Contact,
    pub chat_id: u64,
    pub channel_id: String,
    /// Stable for this run and step: `run-<id>-step-<path>`.
    pub key: String,
}

/// The funnel a run belongs to and where it stands, for the client card.
pub struct RunView {
    pub run: Run,
    pub funnel_name: String,
}

/// Clients waiting at each step of a funnel (by the step's path, e.g. "2.yes.0").
pub struct FunnelView {
    pub funnel: Funnel,
    pub waiting: Vec<(String, u64)>,
}

pub use super::hours::Business;

/// Step kinds this server cannot carry out yet; a funnel using them is refused (422) rather
/// than accepted and silently skipped.
fn unsupported(f: &Funnel, business: bool, templates: &[(String, String)]) -> Result<()> {
    for (path, step) in f.walk() {
        if let Step::Send {
            template: Some(name),
            ..
        } = step
            && template_text(templates, name).is_none()
        {
            return Err(Error::invalid(
                format!("{}.template", path.field()),
                format!("no chat template {name:?} (Variables lists them)"),
            ));
        }
        let why = match step {
            Step::DelayUntil { .. } | Step::DelayBusinessHours if !business => {
                "needs [business_hours] (at least time_zone) in the config file"
            }
            _ => continue,
        };
        return Err(Error::invalid(format!("{}.kind", path.field()), why));
    }
    Ok(())
}

/// Assign steps must name a manager who exists and is active (checked again when the step
/// runs, since a manager can be disabled later).
fn check_assignees(w: &W, f: &Funnel) -> Result<()> {
    for (path, step) in f.walk() {
        if let Step::Assign {
            manager_id: Some(id),
        } = step
            && w.manager(*id)?.is_none_or(|m| m.disabled)
        {
            return Err(Error::invalid(
                format!("{}.manager_id", path.field()),
                format!("no active manager {id}"),
            ));
        }
    }
    Ok(())
}

/// Start a run of every enabled funnel listening to `fired` on this chat. Called inside the
/// transaction that stored what fired it; leaves a system message per run started.
pub(crate) fn on_fired(
    w: &W,
    funnels: &[Funnel],
    fired: &Fired<'_>,
    chat: &mut Chat,
    contact: &mut Contact,
    now: i64,
) -> Result<bool> {
    if chat.disabled || funnels.is_empty() {
        return Ok(false);
    }
    let mut started = false;
    for f in funnels {
        if !f.channels.is_empty() && !f.channels.contains(&chat.channel_id) {
            continue;
        }
        let why = match (&f.trigger, fired) {
            (Trigger::Keyword { .. }, Fired::Message { text, .. }) => {
                match f.trigger.matches_text(text) {
                    Some(k) => format!("keyword \u{2018}{k}\u{2019}"),
                    None => continue,
                }
            }
            (Trigger::FirstMessage, Fired::Message { first: true, .. }) => "first message".into(),
            (Trigger::Subscribed, Fired::Subscribed) => "subscribed".into(),
            (Trigger::TagAdded { tag }, Fired::TagAdded(t))
                if crate::domain::normalise::same_text(tag, t) =>
            {
                format!("tag \u{2018}{t}\u{2019} added")
            }
            _ => continue,
        };
        // One run of a funnel per client at a time: a keyword repeated mid-run does not
        // start the funnel over.
        if db_auto::contact_runs(w, contact.id)?
            .iter()
            .any(|r| r.funnel_id == f.id && r.state.is_active())
        {
            continue;
        }
        let Some(first) = f.first() else { continue };
        let mut run = Run {
            id: 0,
            funnel_id: f.id,
            contact_id: contact.id,
            chat_id: Some(chat.id),
            path: first,
            state: RunState::Waiting { due_ms: now },
            started_ms: now,
            updated_ms: now,
        };
        db_auto::put_run(w, None, &mut run)?;
        let text = format!("Funnel {}: trigger: {why}", f.name);
        system(w, chat, contact, "funnel_started", &text, now)?;
        started = true;
    }
    Ok(started)
}

/// A `system` message in the chat, with its live event (the caller stores the chat).
fn system(
    w: &W,
    chat: &mut Chat,
    contact: &mut Contact,
    event: &str,
    text: &str,
    now: i64,
) -> Result<()> {
    super::append_system(w, chat, contact, event, text, None, now)
}

/// A bot message stored and queued for delivery in the same transaction, with its live
/// event; returns its id.
pub(crate) fn queue_bot(
    w: &W,
    chat: &mut Chat,
    contact: &mut Contact,
    text: String,
    event: &str,
    now: i64,
) -> Result<u64> {
    let m = db::append_message(
        w,
        chat,
        contact,
        Message {
            id: 0,
            chat_id: 0,
            kind: Kind::Bot,
            text,
            attachments: vec![],
            author: None,
            created_ms: now,
            status: Some(Status::Queued),
            error: None,
            edited: false,
            mentions: vec![],
            event: Some(event.to_string()),
            external_id: None,
        },
    )?;
    db::enqueue(
        w,
        &Delivery {
            message_id: m.id,
            chat_id: chat.id,
            attempts: 0,
            due_ms: now,
            last_error: None,
            parts_sent: 0,
        },
    )?;
    emit_message(w, true, contact.id, &m)?;
    Ok(m.id)
}

/// The manager `{manager.name}` stands for in automated messages: the one handling the
/// client's open dialog (there is no responsible manager until assignment exists).
pub(crate) fn manager_name<T: crate::store::Read>(
    r: &T,
    contact: &Contact,
) -> Result<Option<String>> {
    let Some(d) = contact.open_dialog else {
        return Ok(None);
    };
    let Some(dialog) = r.dialog(d)? else {
        return Ok(None);
    };
    Ok(r.manager(dialog.manager_id)?.map(|m| m.name))
}

/// "2 h", "90 s", "3 d": how a delay reads in the history.
fn duration_text(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The client's default chat for a run that did not come from a chat (started by hand).
fn run_chat(w: &W, run: &Run, contact: &Contact) -> Result<Option<Chat>> {
    if let Some(id) = run.chat_id
        && let Some(c) = w.chat(id)?
    {
        return Ok(Some(c));
    }
    Ok(w.contact_chats(contact.id)?
        .into_iter()
        .max_by_key(|c| c.last_inbound_ms))
}

impl Inbox {
    /// Load the enabled funnels for the triggers; called once at start.
    pub fn load_funnels(&self) -> Result<()> {
        let all = self.store.read(db_auto::funnels)?;
        self.funnels.set(all);
        Ok(())
    }

    pub(crate) fn live_funnels(&self) -> Arc<Vec<Funnel>> {
        self.funnels.get()
    }

    async fn reload_funnels(&self) -> Result<()> {
        let all = self.store.query(db_auto::funnels).await?;
        self.funnels.set(all);
        Ok(())
    }

    /// Every funnel with the number of clients waiting at each of its steps.
    pub async fn funnels(&self) -> Result<Vec<FunnelView>> {
        self.store
            .query(|r| {
                let mut out = Vec::new();
                for f in db_auto::funnels(r)? {
                    let mut waiting: Vec<(String, u64)> = Vec::new();
                    for id in db_auto::funnel_run_ids(r, f.id)? {
                        let Some(run) = db_auto::run(r, id)? else {
                            continue;
                        };
                        if !run.state.is_active() {
                            continue;
                        }
                        let at = run.path.to_string();
                        match waiting.iter_mut().find(|(p, _)| *p == at) {
                            Some((_, n)) => *n += 1,
                            None => waiting.push((at, 1)),
                        }
                    }
                    out.push(FunnelView { funnel: f, waiting });
                }
                Ok(out)
            })
            .await
    }

    pub async fn funnel(&self, id: u64) -> Result<Funnel> {
        self.store
            .query(move |r| {
                db_auto::funnel(r, id)?.ok_or_else(|| Error::NotFound(format!("funnel {id}")))
            })
            .await
    }

    /// Store a new funnel from its JSON body (validated; 422 names the step).
    pub async fn create_funnel(&self, body: serde_json::Value) -> Result<Funnel> {
        let mut f = auto::validate(&auto::parse(&body)?)?;
        unsupported(&f, self.business.is_some(), &self.templates.all())?;
        let now = store::now_ms();
        f.created_ms = now;
        f.updated_ms = now;
        let f = self
            .store
            .write(move |w| {
                let mut f = f.clone();
                check_assignees(w, &f)?;
                db_auto::put_funnel(w, &mut f)?;
                Ok(f)
            })
            .await?;
        self.reload_funnels().await?;
        Ok(f)
    }

    /// Change a funnel with a PATCH body. Runs waiting at a step the new steps no longer
    /// have are stopped (they cannot be placed in a funnel that changed under them).
    pub async fn update_funnel(&self, id: u64, patch: serde_json::Value) -> Result<Funnel> {
        let business = self.business.is_some();
        let templates = self.templates.all();
        let f = self
            .store
            .write(move |w| {
                let old = db_auto::funnel(w, id)?
                    .ok_or_else(|| Error::NotFound(format!("funnel {id}")))?;
                let mut f = old.patched(&patch)?;
                unsupported(&f, business, &templates)?;
                check_assignees(w, &f)?;
                f.updated_ms = store::now_ms();
                db_auto::put_funnel(w, &mut f)?;
                if f.steps != old.steps {
                    for rid in db_auto::funnel_run_ids(w, id)? {
                        if let Some(run) = db_auto::run(w, rid)?
                            && run.state.is_active()
                            && f.step_at(&run.path).map(Step::kind)
                                != old.step_at(&run.path).map(Step::kind)
                        {
                            end_run(
                                w,
                                run,
                                RunState::Stopped {
                                    reason: "the funnel's steps changed".into(),
                                },
                            )?;
                        }
                    }
                }
                Ok(f)
            })
            .await?;
        self.reload_funnels().await?;
        Ok(f)
    }

    /// Delete a funnel and stop its waiting runs.
    pub async fn delete_funnel(&self, id: u64) -> Result<()> {
        self.store
            .write(move |w| {
                if !db_auto::delete_funnel(w, id)? {
                    return Err(Error::NotFound(format!("funnel {id}")));
                }
                for rid in db_auto::funnel_run_ids(w, id)? {
                    if let Some(run) = db_auto::run(w, rid)?
                        && run.state.is_active()
                    {
                        end_run(
                            w,
                            run,
                            RunState::Stopped {
                                reason: "the funnel was deleted".into(),
                            },
                        )?;
                    }
                }
                Ok(())
            })
            .await?;
        self.reload_funnels().await
    }

    /// Start a funnel for a client by hand (any trigger kind), as `manager`.
    pub async fn start_funnel(
        &self,
        manager: ManagerId,
        funnel_id: u64,
        contact_id: u64,
    ) -> Result<Run> {
        let channels = self.channels.clone();
        let run = self
            .store
            .write(move |w| start_funnel_tx(w, &channels, manager, funnel_id, contact_id))
            .await?;
        self.automation_wake.notify_one();
        Ok(run)
    }

    /// A client's runs, newest first, with their funnels' names.
    pub async fn contact_runs(&self, contact_id: u64) -> Result<Vec<RunView>> {
        self.store
            .query(move |r| {
                r.contact_or_404(contact_id)?;
                let mut out = Vec::new();
                for run in db_auto::contact_runs(r, contact_id)?.into_iter().rev() {
                    let funnel_name = db_auto::funnel(r, run.funnel_id)?
                        .map(|f| f.name)
                        .unwrap_or_default();
                    out.push(RunView { run, funnel_name });
                }
                Ok(out)
            })
            .await
    }

    /// A manager stops a client's run ("stop" on the card).
    pub async fn stop_run(&self, manager: ManagerId, run_id: u64) -> Result<Run> {
        self.store
            .write(move |w| {
                let run = db_auto::run(w, run_id)?
                    .ok_or_else(|| Error::NotFound(format!("run {run_id}")))?;
                if !run.state.is_active() {
                    return Ok(run);
                }
                let who = w
                    .manager(manager.0)?
                    .map(|m| m.name)
                    .unwrap_or_else(|| "a manager".into());
                end_run(
                    w,
                    run,
                    RunState::Cancelled {
                        reason: format!("stopped by {who}"),
                    },
                )
            })
            .await
    }

    /// Runs due at `now` (at most `limit`), soonest first.
    pub async fn due_runs(&self, now: i64, limit: usize) -> Result<Vec<u64>> {
        self.store
            .query(move |r| db_auto::due_runs(r, now, limit))
            .await
    }

    /// When the next run is due.
    pub async fn next_run_due(&self) -> Result<Option<i64>> {
        self.store.query(db_auto::next_due).await
    }

    /// Carry a due run through its steps until it waits or ends. A run that is not due (or
    /// already advanced by someone else) is left alone, so firing twice does nothing twice.
    /// Returns the webhook call to make when the run stopped at a webhook step.
    pub async fn advance_run(&self, run_id: u64) -> Result<Option<WebhookCall>> {
        self.advance_with(run_id, None).await
    }

    /// Record the answer of a run's webhook step (`outcome` reads after "webhook …" in the
    /// history) and carry the run on. Nothing happens if the run has moved on meanwhile.
    pub async fn webhook_done(
        &self,
        run_id: u64,
        path: auto::StepPath,
        outcome: String,
    ) -> Result<Option<WebhookCall>> {
        self.advance_with(run_id, Some((path, outcome))).await
    }

    async fn advance_with(
        &self,
        run_id: u64,
        resume: Option<(auto::StepPath, String)>,
    ) -> Result<Option<WebhookCall>> {
        let channels = self.channels.clone();
        let business = self.business.clone();
        let templates = self.templates.all();
        let cap = self.sends_per_hour;
        let online = self.hub.online();
        let (sent, call) = self
            .store
            .write(move |w| {
                let now = store::now_ms();
                let Some(run) = db_auto::run(w, run_id)? else {
                    return Ok((false, None));
                };
                let RunState::Waiting { due_ms } = run.state else {
                    return Ok((false, None));
                };
                let ctx = Ctx {
                    channels: &channels,
                    online: &online,
                    business: business.as_deref(),
                    templates: &templates,
                    cap,
                };
                match &resume {
                    // The answer belongs to where the run is parked, lease or not.
                    Some((p, outcome)) if *p == run.path => {
                        advance(w, run, now, &ctx, Some((p, outcome.as_str())))
                    }
                    Some(_) => Ok((false, None)),
                    None if due_ms > now => Ok((false, None)),
                    None => advance(w, run, now, &ctx, None),
                }
            })
            .await?;
        if sent {
            self.outbox_wake.notify_one();
        }
        Ok(call)
    }
}

/// End a run, leaving a system message in its chat when it has one.
fn end_run(w: &W, old: Run, state: RunState) -> Result<Run> {
    let now = store::now_ms();
    let mut run = old.clone();
    let text = match &state {
        RunState::Cancelled { reason } | RunState::Stopped { reason } => reason.clone(),
        RunState::Done => "finished".into(),
        RunState::Waiting { .. } => String::new(),
    };
    run.state = state;
    run.updated_ms = now;
    db_auto::put_run(w, Some(&old), &mut run)?;
    if let Some(cid) = run.chat_id
        && let Some(mut chat) = w.chat(cid)?
    {
        let name = db_auto::funnel(w, run.funnel_id)?
            .map(|f| f.name)
            .unwrap_or_else(|| "(deleted)".into());
        let before = w.contact_or_404(chat.contact_id)?;
        let mut contact = before.clone();
        system(
            w,
            &mut chat,
            &mut contact,
            "funnel_ended",
            &format!("Funnel {name}: {text}"),
            now,
        )?;
        db::put_chat(w, &chat)?;
        if contact != before {
            db::put_contact(w, Some(&before), &contact)?;
        }
    }
    Ok(run)
}

/// Cancel, for good, every waiting run that sends to `chat_id` (H2: a disabled chat).
pub(crate) fn cancel_chat_runs(w: &W, chat: &Chat, why: &str) -> Result<()> {
    for run in db_auto::contact_runs(w, chat.contact_id)? {
        if run.state.is_active() && run.chat_id == Some(chat.id) {
            end_run(w, run, RunState::Cancelled { reason: why.into() })?;
        }
    }
    Ok(())
}

/// What an advance needs besides the run.
struct Ctx<'a> {
    channels: &'a super::Channels,
    /// Managers online when the advance began (automatic assignment picks among them).
    online: &'a [u64],
    business: Option<&'a Business>,
    templates: &'a [(String, String)],
    cap: u32,
}

/// Run the steps of `run` from where it stands; `resume` is the answer of the webhook step
/// the run is parked at. Returns whether a message was queued, and the webhook call to make
/// when the run stopped at a webhook step.
fn advance(
    w: &W,
    old: Run,
    now: i64,
    ctx: &Ctx<'_>,
    mut resume: Option<(&auto::StepPath, &str)>,
) -> Result<(bool, Option<WebhookCall>)> {
    let Ctx {
        channels,
        online,
        business,
        templates,
        cap,
    } = *ctx;
    let mut run = old.clone();
    let Some(f) = db_auto::funnel(w, run.funnel_id)? else {
        end_run(
            w,
            old,
            RunState::Stopped {
                reason: "the funnel was deleted".into(),
            },
        )?;
        return Ok((false, None));
    };
    if !f.enabled {
        end_run(
            w,
            old,
            RunState::Stopped {
                reason: "the funnel was turned off".into(),
            },
        )?;
        return Ok((false, None));
    }
    let before = w.contact_or_404(run.contact_id)?;
    let mut contact = before.clone();
    let Some(mut chat) = run_chat(w, &run, &contact)? else {
        end_run(
            w,
            old,
            RunState::Stopped {
                reason: "the client has no chat".into(),
            },
        )?;
        return Ok((false, None));
    };
    if chat.disabled {
        end_run(
            w,
            old,
            RunState::Cancelled {
                reason: "the chat is disabled".into(),
            },
        )?;
        return Ok((false, None));
    }
    run.chat_id = Some(chat.id);
    let label = format!("Funnel {}", f.name);
    let mut queued = false;
    let mut call = None;
    let mut state = RunState::Done;
    let mut path = Some(run.path.clone());
    let mut steps = 0;
    while let Some(at) = path.take() {
        steps += 1;
        if steps > MAX_STEPS_PER_ADVANCE {
            // Go on in the next advance, right away.
            state = RunState::Waiting { due_ms: now };
            path = Some(at);
            break;
        }
        let Some(step) = f.step_at(&at) else {
            break;
        };
        let mut next = f.next_after(&at);
        match step {
            Step::Send { text, template } => {
                // The template as it is now; the step's own text if it was deleted since.
                let text = template
                    .as_deref()
                    .and_then(|n| template_text(templates, n))
                    .unwrap_or(text);
                let vars = auto::Vars::of(&contact, manager_name(w, &contact)?.as_deref());
                let body = normalise::text(
                    &auto::render(text, &vars),
                    crate::domain::inbox::MAX_MESSAGE_TEXT,
                );
                if chat.bot_disabled {
                    system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!("{label}: skipped: bot messages are off"),
                        now,
                    )?;
                } else if contact.blacklisted {
                    system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!("{label}: skipped: the client is blacklisted"),
                        now,
                    )?;
                } else if chat.unreachable {
                    system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!("{label}: skipped: the client cannot be reached"),
                        now,
                    )?;
                } else if body.is_empty() {
                    system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!("{label}: skipped: the message is empty"),
                        now,
                    )?;
                } else if !db_auto::count_send(w, f.id, contact.id, now, cap)? {
                    state = RunState::Stopped {
                        reason: format!("more than {cap} messages in an hour"),
                    };
                    system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!(
                            "{label}: stopped: more than {cap} messages to this client in an hour"
                        ),
                        now,
                    )?;
                    path = None;
                    break;
                } else {
                    queue_bot(
                        w,
                        &mut chat,
                        &mut contact,
                        body,
                        &format!("funnel:{}", f.name),
                        now,
                    )?;
                    queued = true;
                }
            }
            Step::Delay { seconds } => {
                let secs = (*seconds).max(1);
                system(
                    w,
                    &mut chat,
                    &mut contact,
                    "funnel_step",
                    &format!("{label}: waiting {}", duration_text(secs)),
                    now,
                )?;
                match next {
                    Some(n) => {
                        state = RunState::Waiting {
                            due_ms: now.saturating_add((secs as i64).saturating_mul(1000)),
                        };
                        path = Some(n);
                    }
                    None => state = RunState::Done,
                }
                break;
            }
            Step::Condition { filter, yes, no } => {
                let fl = filter.validate()?;
                let chats = w.contact_chats(contact.id)?;
                let holds = fl.matches(&contact, &chats);
                let (branch, word, list) = if holds {
                    (auto::Branch::Yes, "yes", yes)
                } else {
                    (auto::Branch::No, "no", no)
                };
                system(
                    w,
                    &mut chat,
                    &mut contact,
                    "funnel_step",
                    &format!("{label}: condition: {word}"),
                    now,
                )?;
                if !list.is_empty() {
                    next = f.enter(&at, branch);
                }
            }
            Step::Tag { add, remove } => {
                for t in add {
                    if !contact
                        .tags
                        .iter()
                        .any(|x| crate::domain::normalise::same_text(x, t))
                        && contact.tags.len() < 100
                    {
                        contact.tags.push(t.clone());
                    }
                }
                contact.tags.retain(|x| {
                    !remove
                        .iter()
                        .any(|r| crate::domain::normalise::same_text(r, x))
                });
                let mut parts = Vec::new();
                if !add.is_empty() {
                    parts.push(format!("tags added: {}", add.join(", ")));
                }
                if !remove.is_empty() {
                    parts.push(format!("tags removed: {}", remove.join(", ")));
                }
                system(
                    w,
                    &mut chat,
                    &mut contact,
                    "funnel_step",
                    &format!("{label}: {}", parts.join("; ")),
                    now,
                )?;
            }
            Step::SetField { name, value } => {
                contact.custom_fields.insert(name.clone(), value.clone());
                system(
                    w,
                    &mut chat,
                    &mut contact,
                    "funnel_step",
                    &format!("{label}: {name} set to {value:?}"),
                    now,
                )?;
            }
            Step::Task { title, due_seconds } => {
                let t = crate::domain::inbox::Task {
                    id: w.next_id("task")?,
                    contact_id: contact.id,
                    title: title.clone(),
                    due_ms: due_seconds
                        .map(|s| now.saturating_add((s as i64).saturating_mul(1000))),
                    assignee: None,
                    done: false,
                    created_ms: now,
                    created_by: None,
                };
                db::put_task(w, &t)?;
                contact.open_tasks += 1;
                w.emit(None, Event::TaskUpdated(t))?;
                system(
                    w,
                    &mut chat,
                    &mut contact,
                    "funnel_step",
                    &format!("{label}: task added: {title}"),
                    now,
                )?;
            }
            Step::OpenDialog => {
                if contact.open_dialog.is_none() {
                    let d = crate::domain::inbox::Dialog {
                        id: w.next_id("dialog")?,
                        contact_id: contact.id,
                        manager_id: 0,
                        opened_ms: now,
                        closed_ms: None,
                    };
                    db::put_dialog(w, &d)?;
                    contact.open_dialog = Some(d.id);
                    w.emit(None, Event::DialogUpdated(d))?;
                }
                system(
                    w,
                    &mut chat,
                    &mut contact,
                    "funnel_step",
                    &format!("{label}: dialog opened"),
                    now,
                )?;
            }
            Step::Stop => {
                system(
                    w,
                    &mut chat,
                    &mut contact,
                    "funnel_step",
                    &format!("{label}: stop"),
                    now,
                )?;
                next = None;
            }
            Step::DelayUntil { .. } | Step::DelayBusinessHours if business.is_some() => {
                let Some(b) = business else { break };
                let (due, what) = match step {
                    Step::DelayUntil { at } => (
                        crate::domain::hours::next_time_of_day(&b.hours.tz, now, *at),
                        format!("until {at}"),
                    ),
                    _ => (b.hours.next_open(now), "until business hours".to_string()),
                };
                let Some(due) = due else {
                    state = RunState::Stopped {
                        reason: "the business hours never open".into(),
                    };
                    path = None;
                    break;
                };
                if due > now {
                    system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!("{label}: waiting {what}"),
                        now,
                    )?;
                    match next {
                        Some(n) => {
                            state = RunState::Waiting { due_ms: due };
                            path = Some(n);
                        }
                        None => state = RunState::Done,
                    }
                    break;
                }
            }
            Step::Webhook { url } => {
                if let Some((_, outcome)) = resume.take_if(|(p, _)| **p == at) {
                    system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!("{label}: webhook {}: {outcome}", host_of(url)),
                        now,
                    )?;
                } else {
                    // Park the run here: the call is made outside the transaction and its
                    // answer moves the run on (`Inbox::webhook_done`).
                    call = Some(WebhookCall {
                        run_id: run.id,
                        path: at.clone(),
                        url: url.clone(),
                        funnel_id: f.id,
                        funnel_name: f.name.clone(),
                        contact: contact.clone(),
                        chat_id: chat.id,
                        channel_id: chat.channel_id.clone(),
                        key: format!("run-{}-step-{at}", run.id),
                    });
                    state = RunState::Waiting {
                        due_ms: now.saturating_add(WEBHOOK_LEASE_MS),
                    };
                    path = Some(at);
                    break;
                }
            }
            Step::Assign {
                manager_id: Some(id),
            } => {
                let active = w.manager(*id)?.filter(|m| !m.disabled);
                match active {
                    Some(m) if contact.assignee == Some(m.id) => system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!("{label}: already assigned to {}", m.name),
                        now,
                    )?,
                    Some(_) => super::assignment::assign(
                        w,
                        &mut contact,
                        Some(*id),
                        None,
                        super::assignment::By::Named(&label),
                        Some(&mut chat),
                    )?,
                    None => system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!("{label}: skipped: no active manager {id}"),
                        now,
                    )?,
                }
            }
            Step::Assign { manager_id: None } => {
                let before = contact.assignee;
                if before.is_none() {
                    super::assignment::auto_assign(w, channels, online, &mut chat, &mut contact)?;
                }
                if contact.assignee.is_none() {
                    system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!(
                            "{label}: nobody assigned: no manager online under the cap, or the channel assigns nobody automatically"
                        ),
                        now,
                    )?;
                } else if before.is_some() {
                    system(
                        w,
                        &mut chat,
                        &mut contact,
                        "funnel_step",
                        &format!("{label}: the client already has a responsible manager"),
                        now,
                    )?;
                }
            }
            Step::DelayUntil { .. } | Step::DelayBusinessHours => {
                // Refused when funnels are saved; a funnel stored by a newer version that has
                // them is stopped rather than half-run.
                state = RunState::Stopped {
                    reason: format!("the step {} is not available on this server", step.kind()),
                };
                break;
            }
        }
        path = next;
        if path.is_none() {
            state = RunState::Done;
        }
    }
    run.state = state;
    if let Some(p) = path {
        run.path = p;
    }
    run.updated_ms = now;
    if matches!(run.state, RunState::Done) {
        system(
            w,
            &mut chat,
            &mut contact,
            "funnel_ended",
            &format!("{label}: finished"),
            now,
        )?;
    }
    db_auto::put_run(w, Some(&old), &mut run)?;
    db::put_chat(w, &chat)?;
    // Most steps only leave system messages, which change neither the client nor their
    // row: storing the contact would re-index it and wake every list for nothing.
    if contact != before {
        db::put_contact(w, Some(&before), &contact)?;
        w.emit(None, Event::ContactUpdated(contact.clone()))?;
        emit_row(w, &contact, channels)?;
    }
    Ok((queued, call))
}

/// The host of a webhook URL, as the history names it.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Start funnel `funnel_id` for a client by hand, inside the caller's transaction (one
/// client from the card, or many in a bulk action's batch). Checks come before any write,
/// so an error leaves the transaction as it was.
pub(crate) fn start_funnel_tx(
    w: &W,
    channels: &super::Channels,
    manager: ManagerId,
    funnel_id: u64,
    contact_id: u64,
) -> Result<Run> {
    let f = db_auto::funnel(w, funnel_id)?
        .ok_or_else(|| Error::NotFound(format!("funnel {funnel_id}")))?;
    let old = w.contact_or_404(contact_id)?;
    let mut contact = old.clone();
    if db_auto::contact_runs(w, contact_id)?
        .iter()
        .any(|r| r.funnel_id == funnel_id && r.state.is_active())
    {
        return Err(Error::Conflict(format!(
            "the client is already in the funnel {:?}",
            f.name
        )));
    }
    let first = f
        .first()
        .ok_or_else(|| Error::invalid("funnel", "the funnel has no steps"))?;
    let now = store::now_ms();
    let mut run = Run {
        id: 0,
        funnel_id,
        contact_id,
        chat_id: None,
        path: first,
        state: RunState::Waiting { due_ms: now },
        started_ms: now,
        updated_ms: now,
    };
    let Some(mut chat) = run_chat(w, &run, &contact)? else {
        return Err(Error::invalid("contact_id", "the client has no chat"));
    };
    if chat.disabled {
        return Err(Error::Conflict(
            "the client's chat is disabled: funnels do not send to it".into(),
        ));
    }
    run.chat_id = Some(chat.id);
    db_auto::put_run(w, None, &mut run)?;
    let who = w
        .manager(manager.0)?
        .map(|m| m.name)
        .unwrap_or_else(|| "A manager".into());
    let text = format!("Funnel {}: started by {who}", f.name);
    system(w, &mut chat, &mut contact, "funnel_started", &text, now)?;
    db::put_chat(w, &chat)?;
    db::put_contact(w, Some(&old), &contact)?;
    emit_row(w, &contact, channels)?;
    Ok(run)
}
