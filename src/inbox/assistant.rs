//! The AI assistant (B2) as use cases. A client message in a chat with the assistant on owes
//! an answer after a quiet period (a row in `ASSISTANT_DUE`, written in the ingest's
//! transaction, so a restart loses nothing). The worker in `automation::assistant` takes a
//! due answer (`take_assistant_call`: one transaction that checks the switches, leases the
//! answer and reads the history since the last Reset), makes the request outside any
//! transaction, and hands what came back to `assistant_done`, which records it in the next
//! one: a bot message through the outbox, a hand-over, or a failure with its retry.

use std::sync::Arc;

use super::automation::queue_bot;
use super::{Inbox, append_system_message, emit_row};
use crate::domain::assistant::{
    self as ai, ChatState, Job, Outcome, Rules, Speaker, Stats, Tokens, Turn,
};
use crate::domain::event::Event;
use crate::domain::inbox::{Chat, Contact, Kind, Message, Notification};
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store::assistant as db_ai;
use crate::store::inbox::{self as db, InboxReads};
use crate::store::prelude::*;
use crate::store::{self, W};

/// How much longer than its timeout a request may be away before the answer is owed again
/// (the process stopped mid-request).
const LEASE_MARGIN_MS: i64 = 30_000;

/// The longest text of one history line sent to the model.
const MAX_TURN_CHARS: usize = 4000;

/// The configured assistants, as the inbox needs them.
#[derive(Default)]
pub struct AssistantRules(Vec<Rules>);

impl AssistantRules {
    pub fn new(rules: Vec<Rules>) -> AssistantRules {
        AssistantRules(rules)
    }

    pub fn get(&self, id: &str) -> Option<&Rules> {
        self.0.iter().find(|r| r.id == id)
    }

    pub fn first(&self) -> Option<&Rules> {
        self.0.first()
    }

    pub fn ids(&self) -> Vec<String> {
        self.0.iter().map(|r| r.id.clone()).collect()
    }
}

/// A request to make: everything the endpoint needs from the store.
#[derive(Clone, Debug)]
pub struct AssistantCall {
    pub chat_id: u64,
    pub assistant: String,
    /// Names this try; its answer counts only while the chat still waits for it.
    pub call_id: u64,
    /// The chat since the last Reset, oldest first, the newest `max_history` lines.
    pub history: Vec<Turn>,
    /// The client's unanswered words, for the knowledge search.
    pub query: String,
    /// 1 for the first try.
    pub attempt: u32,
}

/// What a client message did to the assistant (ingest wakes the worker or the outbox).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reaction {
    None,
    Scheduled,
    HandedOver,
}

/// A client message arrived in `chat` (inside the ingest's transaction; the caller stores
/// the chat and the contact). Words asking for a person hand over at once; otherwise the
/// answer is due after the quiet period, which each further message restarts.
pub(crate) fn on_client_message(
    w: &W,
    rules: &AssistantRules,
    chat: &mut Chat,
    contact: &mut Contact,
    m: &Message,
    now: i64,
) -> Result<Reaction> {
    if !chat.assistant_on {
        return Ok(Reaction::None);
    }
    let Some(r) = chat.assistant.as_deref().and_then(|id| rules.get(id)) else {
        return Ok(Reaction::None);
    };
    if let Some(word) = ai::asks_for_person(&m.text, &r.handover_words) {
        let why = format!("the client asked for a person (\u{2018}{word}\u{2019})");
        hand_over(w, r, chat, contact, &why, now)?;
        return Ok(Reaction::HandedOver);
    }
    let old = db_ai::chat_state(w, chat.id)?;
    if old.paused_until_ms > now {
        return Ok(Reaction::None);
    }
    let mut s = old.clone();
    match &mut s.job {
        // Answered once the request in flight is back.
        Some(j) if j.call_id != 0 => j.more = true,
        // A retry keeps its own time.
        Some(j) if j.attempts > 0 => {}
        Some(j) => {
            j.due_ms = (now + r.quiet_ms)
                .min(j.first_ms + ai::MAX_QUIET_WAIT_MS)
                .max(now);
        }
        None => {
            s.job = Some(Job {
                due_ms: now + r.quiet_ms,
                first_ms: now,
                ..Job::default()
            });
        }
    }
    db_ai::put_chat_state(w, &old, &s)?;
    Ok(Reaction::Scheduled)
}

/// A manager wrote to the client by hand (inside the send's transaction): the assistant
/// keeps quiet in this chat for the configured pause, and owes no answer any more.
pub(crate) fn on_manager_message(
    w: &W,
    rules: &AssistantRules,
    chat: &mut Chat,
    contact: &mut Contact,
    now: i64,
) -> Result<()> {
    if !chat.assistant_on {
        return Ok(());
    }
    let Some(r) = chat.assistant.as_deref().and_then(|id| rules.get(id)) else {
        return Ok(());
    };
    if r.manager_pause_ms <= 0 {
        return Ok(());
    }
    let old = db_ai::chat_state(w, chat.id)?;
    let mut s = old.clone();
    let was_paused = old.paused_until_ms > now;
    s.paused_until_ms = now + r.manager_pause_ms;
    s.job = None;
    db_ai::put_chat_state(w, &old, &s)?;
    if !was_paused {
        let text = format!(
            "AI assistant {} paused for {}: a manager replied",
            r.name,
            duration_text(r.manager_pause_ms / 1000)
        );
        append_system_message(w, chat, contact, "assistant_paused", &text, None, now)?;
    }
    Ok(())
}

/// Turn the assistant off in `chat`, say why, tell the client a person is coming and notify
/// the responsible manager (or every active one). The caller stores the chat and contact.
fn hand_over(
    w: &W,
    r: &Rules,
    chat: &mut Chat,
    contact: &mut Contact,
    why: &str,
    now: i64,
) -> Result<bool> {
    chat.assistant_on = false;
    let old = db_ai::chat_state(w, chat.id)?;
    let mut s = old.clone();
    s.job = None;
    db_ai::put_chat_state(w, &old, &s)?;
    let text = format!(
        "AI assistant {} handed the chat over to a person: {why}",
        r.name
    );
    let m = append_system_message(w, chat, contact, "assistant_handover", &text, None, now)?;
    db::add_log(w, contact.id, "assistant_handover", &text, None, now)?;
    let queued = if sendable(chat, contact).is_none() {
        queue_bot(
            w,
            chat,
            contact,
            normalise::text(&r.handover_reply, crate::domain::inbox::MAX_MESSAGE_TEXT),
            &format!("assistant:{}", r.id),
            now,
        )?;
        true
    } else {
        false
    };
    let to: Vec<u64> = match contact.assignee {
        Some(id) if w.manager(id)?.is_some_and(|m| !m.disabled) => vec![id],
        _ => w
            .managers()?
            .into_iter()
            .filter(|m| !m.disabled)
            .map(|m| m.id)
            .collect(),
    };
    for id in to {
        let n = Notification {
            id: w.next_id("notification")?,
            manager_id: id,
            chat_id: chat.id,
            contact_id: contact.id,
            message_id: m.id,
            from: 0,
            text: format!("{} needs a person: {why}", contact.name),
            read: false,
            created_ms: now,
        };
        db::put_notification(w, &n, None)?;
        let view = super::clients::notification_view(w, &n)?;
        w.emit(Some(id), Event::NotificationCreated(view))?;
    }
    Ok(queued)
}

/// Why nothing may be sent to this client now (H2, H3, blacklist, unreachable), or None.
fn sendable(chat: &Chat, contact: &Contact) -> Option<&'static str> {
    if chat.disabled {
        Some("the chat is disabled")
    } else if chat.bot_disabled {
        Some("bot messages are off in this chat")
    } else if contact.blacklisted {
        Some("the client is blacklisted")
    } else if chat.unreachable {
        Some("the client cannot be reached")
    } else {
        None
    }
}

/// "30 min", "2 h", "45 s".
fn duration_text(secs: i64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// A line of the history as the model sees it: client → user; bot and manager → assistant;
/// notes and system messages never.
fn turn(m: &Message) -> Option<Turn> {
    let speaker = match m.kind {
        Kind::Client => Speaker::User,
        Kind::Bot | Kind::Manager => Speaker::Assistant,
        Kind::Note | Kind::System => return None,
    };
    let mut text: String = m.text.chars().take(MAX_TURN_CHARS).collect();
    for a in &m.attachments {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("[attachment: {} ({})]", a.name, a.mime));
    }
    (!text.trim().is_empty()).then_some(Turn { speaker, text })
}

/// The chat's history since the last Reset, the newest `max` lines, and the client's words
/// after the business's last one.
fn history<T: Read>(r: &T, chat_id: u64, since: u64, max: usize) -> Result<(Vec<Turn>, String)> {
    let (msgs, _) = r.history(chat_id, None, max.saturating_mul(4).saturating_add(20))?;
    let mut turns: Vec<Turn> = msgs
        .iter()
        .filter(|m| m.id > since)
        .filter_map(turn)
        .collect();
    if turns.len() > max {
        turns.drain(..turns.len() - max);
    }
    let open: Vec<&str> = turns
        .iter()
        .rev()
        .take_while(|t| t.speaker == Speaker::User)
        .map(|t| t.text.as_str())
        .collect();
    let query = open.into_iter().rev().collect::<Vec<_>>().join("\n");
    Ok((turns, query))
}

/// A system message in `chat` with the chat and contact stored.
fn note_in_chat(w: &W, chat: &mut Chat, event: &str, text: &str, now: i64) -> Result<()> {
    let before = w.contact_or_404(chat.contact_id)?;
    let mut contact = before.clone();
    append_system_message(w, chat, &mut contact, event, text, None, now)?;
    db::put_chat(w, chat)?;
    db::put_contact(w, Some(&before), &contact)
}

fn count_usage(
    w: &W,
    assistant: &str,
    s: &mut ChatState,
    tokens: Tokens,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    s.usage.add(tokens, error.is_some(), now);
    let mut st = db_ai::stats(w, assistant)?;
    st.usage.add(tokens, error.is_some(), now);
    match error {
        Some(e) => {
            st.last_error = Some(e.to_string());
            st.last_error_ms = Some(now);
        }
        None => st.last_ok_ms = Some(now),
    }
    db_ai::put_stats(w, assistant, &st)
}

/// One chat's usage for Settings.
pub struct ChatUsage {
    pub chat_id: u64,
    pub contact_id: u64,
    pub contact_name: String,
    pub channel_id: String,
    pub assistant: Option<String>,
    pub assistant_on: bool,
    pub usage: ai::Usage,
}

impl Inbox {
    /// Chats whose answer is due at `now` (at most `limit`), soonest first.
    pub async fn due_assistant_chats(&self, now: i64, limit: usize) -> Result<Vec<u64>> {
        self.store.query(move |r| db_ai::due(r, now, limit)).await
    }

    /// When the next answer is due.
    pub async fn next_assistant_due(&self) -> Result<Option<i64>> {
        self.store.query(db_ai::next_due).await
    }

    /// Lease the answer `chat_id` is owed, if it is due and may still be given, and read
    /// what the request needs. A switch turned meanwhile (H2, H3, blacklist, the hourly cap)
    /// drops the answer with a system message saying why; None then.
    pub async fn take_assistant_call(&self, chat_id: u64) -> Result<Option<AssistantCall>> {
        let rules = self.assistant_rules.clone();
        self.store
            .write(move |w| {
                let now = store::now_ms();
                let old = db_ai::chat_state(w, chat_id)?;
                let Some(mut job) = old.job.clone() else {
                    return Ok(None);
                };
                if job.due_ms > now {
                    return Ok(None);
                }
                let mut s = old.clone();
                s.job = None;
                let Some(mut chat) = w.chat(chat_id)? else {
                    db_ai::put_chat_state(w, &old, &s)?;
                    return Ok(None);
                };
                let contact = w.contact_or_404(chat.contact_id)?;
                let rule = chat.assistant.as_deref().and_then(|id| rules.get(id));
                let why: Option<String> = match rule {
                    _ if !chat.assistant_on || s.paused_until_ms > now => None,
                    None => Some(format!(
                        "the assistant {:?} is no longer in the config",
                        chat.assistant.as_deref().unwrap_or("")
                    )),
                    Some(r) => match sendable(&chat, &contact) {
                        Some(why) => Some(why.to_string()),
                        None => {
                            if now - s.hour_start_ms >= 3_600_000 {
                                s.hour_start_ms = now;
                                s.hour_replies = 0;
                            }
                            (s.hour_replies >= r.max_replies_per_hour).then(|| {
                                format!(
                                    "more than {} answers in this chat within an hour",
                                    r.max_replies_per_hour
                                )
                            })
                        }
                    },
                };
                if let Some(why) = why {
                    db_ai::put_chat_state(w, &old, &s)?;
                    let name = rule.map_or("", |r| r.name.as_str());
                    let text =
                        format!("AI assistant {name} is not answering: {why}").replace("  ", " ");
                    note_in_chat(w, &mut chat, "assistant_skipped", &text, now)?;
                    return Ok(None);
                }
                let Some(r) = rule.filter(|_| chat.assistant_on && s.paused_until_ms <= now) else {
                    db_ai::put_chat_state(w, &old, &s)?;
                    return Ok(None);
                };
                let (turns, query) = history(w, chat_id, s.since_msg, r.max_history)?;
                if query.is_empty() {
                    // Nothing left to answer: someone answered, or a Reset came after.
                    db_ai::put_chat_state(w, &old, &s)?;
                    return Ok(None);
                }
                job.call_id = w.next_id("assistant_call")?;
                job.due_ms = now + r.timeout_ms + LEASE_MARGIN_MS;
                job.more = false;
                let call = AssistantCall {
                    chat_id,
                    assistant: r.id.clone(),
                    call_id: job.call_id,
                    history: turns,
                    query,
                    attempt: job.attempts + 1,
                };
                s.job = Some(job);
                db_ai::put_chat_state(w, &old, &s)?;
                Ok(Some(call))
            })
            .await
    }

    /// Record what a request came to: the answer as a bot message through the outbox, a
    /// hand-over, or a failure with a system message and (within `MAX_TRIES`) its retry. An
    /// answer the chat no longer waits for (a Reset, a switch, a newer try) only counts as
    /// usage. Returns whether the worker should look again soon (a retry or more to answer).
    pub async fn assistant_done(&self, call: &AssistantCall, outcome: Outcome) -> Result<()> {
        let rules = self.assistant_rules.clone();
        let channels = self.channels.clone();
        let (chat_id, call_id, assistant) = (call.chat_id, call.call_id, call.assistant.clone());
        let queued = self
            .store
            .write(move |w| {
                let now = store::now_ms();
                let old = db_ai::chat_state(w, chat_id)?;
                let mut s = old.clone();
                let (tokens, error) = match &outcome {
                    Outcome::Reply { tokens, .. } | Outcome::HandOver { tokens, .. } => {
                        (*tokens, None)
                    }
                    Outcome::Failed { tokens, reason, .. } => (*tokens, Some(reason.as_str())),
                };
                count_usage(w, &assistant, &mut s, tokens, error, now)?;
                let live = s.job.as_ref().is_some_and(|j| j.call_id == call_id);
                let (Some(mut chat), Some(r), true) =
                    (w.chat(chat_id)?, rules.get(&assistant), live)
                else {
                    db_ai::put_chat_state(w, &old, &s)?;
                    return Ok(false);
                };
                let job = s.job.take().unwrap_or_default();
                let before = w.contact_or_404(chat.contact_id)?;
                let mut contact = before.clone();
                let mut queued = false;
                let again = |job: &Job| {
                    job.more.then(|| Job {
                        due_ms: now + r.quiet_ms,
                        first_ms: now,
                        ..Job::default()
                    })
                };
                if !chat.assistant_on || chat.assistant.as_deref() != Some(r.id.as_str()) {
                    // Switched off or to another assistant while the request ran.
                } else {
                    match outcome.clone() {
                        Outcome::Reply { text, .. } => {
                            match sendable(&chat, &contact) {
                                Some(why) => {
                                    let t = format!(
                                        "AI assistant {}: the answer was not sent: {why}",
                                        r.name
                                    );
                                    append_system_message(
                                        w,
                                        &mut chat,
                                        &mut contact,
                                        "assistant_skipped",
                                        &t,
                                        None,
                                        now,
                                    )?;
                                }
                                None => {
                                    queue_bot(
                                        w,
                                        &mut chat,
                                        &mut contact,
                                        text,
                                        &format!("assistant:{}", r.id),
                                        now,
                                    )?;
                                    s.hour_replies += 1;
                                    queued = true;
                                }
                            }
                            s.job = again(&job);
                        }
                        Outcome::HandOver { reason, .. } => {
                            let why = if reason.is_empty() {
                                "it cannot help with this".to_string()
                            } else {
                                format!("it cannot help with this ({reason})")
                            };
                            // hand_over clears the job in the stored state; keep ours in step.
                            db_ai::put_chat_state(w, &old, &s)?;
                            queued = hand_over(w, r, &mut chat, &mut contact, &why, now)?;
                            db::put_chat(w, &chat)?;
                            db::put_contact(w, Some(&before), &contact)?;
                            w.emit(None, Event::ChatFlags(super::chat_view(&chat, &channels)))?;
                            emit_row(w, &contact, &channels)?;
                            return Ok(queued);
                        }
                        Outcome::Failed {
                            reason,
                            retry_after_ms,
                            retry,
                            ..
                        } => {
                            let attempts = job.attempts + 1;
                            let wait = match retry_after_ms {
                                Some(ms) if ms > ai::MAX_RETRY_AFTER_MS => None,
                                Some(ms) => Some(ms.max(1000)),
                                None => ai::BACKOFF_MS.get(attempts as usize - 1).copied(),
                            }
                            .filter(|_| retry && attempts < ai::MAX_TRIES);
                            let then = match wait {
                                Some(ms) => format!("trying again in {}", duration_text(ms / 1000)),
                                None if attempts >= ai::MAX_TRIES => {
                                    format!("gave up after {attempts} tries")
                                }
                                None => "not trying again".to_string(),
                            };
                            let t =
                                format!("AI assistant {} did not answer: {reason}; {then}", r.name);
                            append_system_message(
                                w,
                                &mut chat,
                                &mut contact,
                                "assistant_failed",
                                &t,
                                None,
                                now,
                            )?;
                            s.job = match wait {
                                Some(ms) => Some(Job {
                                    due_ms: now + ms,
                                    first_ms: job.first_ms,
                                    attempts,
                                    call_id: 0,
                                    more: job.more,
                                }),
                                None => again(&job),
                            };
                        }
                    }
                }
                db_ai::put_chat_state(w, &old, &s)?;
                db::put_chat(w, &chat)?;
                db::put_contact(w, Some(&before), &contact)?;
                if queued {
                    emit_row(w, &contact, &channels)?;
                }
                Ok(queued)
            })
            .await?;
        if queued {
            self.outbox_wake.notify_one();
        }
        self.assistant_wake.notify_one();
        Ok(())
    }

    /// What a suggested reply for `chat_id` needs: the chat's assistant (or the first one
    /// configured) and its history since the last Reset. Nothing is leased or changed.
    pub async fn suggestion_call(&self, chat_id: u64) -> Result<AssistantCall> {
        let rules = self.assistant_rules.clone();
        self.store
            .query(move |r| {
                let chat = r.chat_or_404(chat_id)?;
                let rule = match chat.assistant.as_deref() {
                    Some(id) => rules.get(id).or(rules.first()),
                    None => rules.first(),
                }
                .ok_or_else(|| {
                    Error::invalid(
                        "assistant",
                        "no AI assistant is configured (add one under [[assistants]] in the config file)",
                    )
                })?;
                let s = db_ai::chat_state(r, chat_id)?;
                let (history, query) = history(r, chat_id, s.since_msg, rule.max_history)?;
                Ok(AssistantCall {
                    chat_id,
                    assistant: rule.id.clone(),
                    call_id: 0,
                    history,
                    query,
                    attempt: 1,
                })
            })
            .await
    }

    /// Count a suggestion's request in the chat's and the assistant's usage.
    pub async fn assistant_usage(
        &self,
        chat_id: u64,
        assistant: String,
        tokens: Tokens,
        error: Option<String>,
    ) -> Result<()> {
        self.store
            .write(move |w| {
                let now = store::now_ms();
                let old = db_ai::chat_state(w, chat_id)?;
                let mut s = old.clone();
                count_usage(w, &assistant, &mut s, tokens, error.as_deref(), now)?;
                db_ai::put_chat_state(w, &old, &s)
            })
            .await
    }

    /// Each configured assistant's usage and last error.
    pub async fn assistant_stats(&self) -> Result<Vec<(String, Stats)>> {
        let ids = self.assistant_rules.ids();
        self.store
            .query(move |r| {
                ids.into_iter()
                    .map(|id| Ok((id.clone(), db_ai::stats(r, &id)?)))
                    .collect()
            })
            .await
    }

    /// The chats that used the assistant most (requests), at most `limit`.
    pub async fn assistant_chat_usage(&self, limit: usize) -> Result<Vec<ChatUsage>> {
        self.store
            .query(move |r| {
                let mut all: Vec<ChatState> = db_ai::chat_states(r, 100_000)?
                    .into_iter()
                    .filter(|s| s.usage.requests > 0)
                    .collect();
                all.sort_by_key(|s| std::cmp::Reverse(s.usage.requests));
                let mut out = Vec::new();
                for s in all.into_iter().take(limit) {
                    let Some(chat) = r.chat(s.chat_id)? else {
                        continue;
                    };
                    let name = r
                        .contact(chat.contact_id)?
                        .map(|c| c.name)
                        .unwrap_or_default();
                    out.push(ChatUsage {
                        chat_id: chat.id,
                        contact_id: chat.contact_id,
                        contact_name: name,
                        channel_id: chat.channel_id.clone(),
                        assistant: chat.assistant.clone(),
                        assistant_on: chat.assistant_on,
                        usage: s.usage,
                    });
                }
                Ok(out)
            })
            .await
    }
}

/// The rules of each configured assistant.
pub fn rules_from_config(c: &crate::config::Config) -> Arc<AssistantRules> {
    Arc::new(AssistantRules::new(
        c.assistants
            .iter()
            .map(|a| Rules {
                id: a.id.clone(),
                name: a.name.clone(),
                quiet_ms: a.quiet_ms as i64,
                manager_pause_ms: (a.manager_pause as i64).saturating_mul(1000),
                max_replies_per_hour: a.max_replies_per_hour,
                max_history: a.max_history,
                timeout_ms: (a.timeout as i64).saturating_mul(1000),
                handover_words: a.handover_words.clone(),
                handover_reply: a.handover_reply.clone(),
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_and_system_messages_never_reach_the_model() {
        let m = |kind, text: &str| Message {
            id: 1,
            chat_id: 1,
            kind,
            text: text.into(),
            attachments: vec![],
            author: None,
            created_ms: 0,
            status: None,
            error: None,
            edited: false,
            mentions: vec![],
            event: None,
            external_id: None,
        };
        assert_eq!(turn(&m(Kind::Client, "hi")).unwrap().speaker, Speaker::User);
        assert_eq!(
            turn(&m(Kind::Manager, "hello")).unwrap().speaker,
            Speaker::Assistant
        );
        assert_eq!(
            turn(&m(Kind::Bot, "hey")).unwrap().speaker,
            Speaker::Assistant
        );
        assert!(turn(&m(Kind::Note, "secret")).is_none());
        assert!(turn(&m(Kind::System, "x")).is_none());
        assert_eq!(duration_text(1800), "30 min");
        assert_eq!(duration_text(7200), "2 h");
        assert_eq!(duration_text(5), "5 s");
    }
}
