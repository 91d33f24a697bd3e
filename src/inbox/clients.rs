//! The client card and what hangs off it: contact data, tags, tasks, dialogs, chat switches,
//! notifications, and the system messages and log entries those changes leave behind.

use crate::domain::manager::ManagerId;
use std::collections::BTreeMap;

use super::assignment::By;
pub(crate) use super::manager_name;
pub use super::notification_view;
use super::{Inbox, chat_view, emit_row};
use crate::domain::event::{ChatView, Event, NotificationView};
use crate::domain::inbox::{Chat, Contact, Dialog, Task};
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store::inbox::{self as db, InboxReads};
use crate::store::prelude::*;
use crate::store::{self, W};

/// Record an event about a client: a system message in their most recent chat (if they have
/// one) and an entry in the client log.
pub(crate) fn record_event(
    w: &W,
    contact: &mut Contact,
    event: &str,
    text: &str,
    manager: Option<u64>,
) -> Result<()> {
    let now = store::now_ms();
    db::add_log(w, contact.id, event, text, manager, now)?;
    if let Some(mut chat) = w.contact_chats(contact.id)?.into_iter().next() {
        system_message(w, &mut chat, contact, event, text, manager, now)?;
    }
    Ok(())
}

/// A `system` message in `chat` (stored with the chat) and its live event.
fn system_message(
    w: &W,
    chat: &mut Chat,
    contact: &mut Contact,
    event: &str,
    text: &str,
    manager: Option<u64>,
    now: i64,
) -> Result<()> {
    super::append_system(w, chat, contact, event, text, manager, now)?;
    db::put_chat(w, chat)
}

/// A tag as stored: trimmed, bounded, not empty.
pub(crate) fn clean_tag(tag: &str) -> Result<String> {
    let tag = normalise::text(tag, 64);
    if tag.is_empty() {
        return Err(Error::invalid("tag", "must not be empty"));
    }
    Ok(tag)
}

/// Add `tag` to the client inside the caller's transaction (the caller stores the contact):
/// funnels listening for the tag start in the client's latest chat, and the log says who.
/// False when the client already had it.
pub(crate) fn add_tag_tx(
    w: &W,
    funnels: &[crate::domain::automation::Funnel],
    c: &mut Contact,
    tag: &str,
    manager: u64,
) -> Result<bool> {
    if c.tags.iter().any(|t| t == tag) {
        return Ok(false);
    }
    if c.tags.len() >= 100 {
        return Err(Error::invalid("tag", "a client has at most 100 tags"));
    }
    c.tags.push(tag.to_string());
    if let Some(mut chat) = w
        .contact_chats(c.id)?
        .into_iter()
        .max_by_key(|ch| ch.last_inbound_ms)
        && super::automation::on_fired(
            w,
            funnels,
            &super::automation::Fired::TagAdded(tag),
            &mut chat,
            c,
            store::now_ms(),
        )?
    {
        db::put_chat(w, &chat)?;
    }
    let who = manager_name(w, manager)?;
    db::add_log(
        w,
        c.id,
        "tag_added",
        &format!("{who} added the tag {tag:?}"),
        Some(manager),
        store::now_ms(),
    )?;
    Ok(true)
}

/// Remove `tag` inside the caller's transaction; false when the client did not have it.
pub(crate) fn remove_tag_tx(w: &W, c: &mut Contact, tag: &str, manager: u64) -> Result<bool> {
    let before = c.tags.len();
    c.tags.retain(|t| t != tag);
    if c.tags.len() == before {
        return Ok(false);
    }
    let who = manager_name(w, manager)?;
    db::add_log(
        w,
        c.id,
        "tag_removed",
        &format!("{who} removed the tag {tag:?}"),
        Some(manager),
        store::now_ms(),
    )?;
    Ok(true)
}

/// Archive or unarchive inside the caller's transaction; false when nothing changed.
pub(crate) fn archive_tx(w: &W, c: &mut Contact, archived: bool, manager: u64) -> Result<bool> {
    if c.archived == archived {
        return Ok(false);
    }
    c.archived = archived;
    let who = manager_name(w, manager)?;
    let (ev, verb) = if archived {
        ("archived", "archived")
    } else {
        ("unarchived", "unarchived")
    };
    record_event(w, c, ev, &format!("{who} {verb} the client"), Some(manager))?;
    Ok(true)
}

#[derive(Default, Clone)]
pub struct ContactPatch {
    pub name: Option<String>,
    pub phones: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
    pub custom_fields: Option<BTreeMap<String, String>>,
    pub sales_plan: Option<Option<String>>,
    pub archived: Option<bool>,
    pub blacklisted: Option<bool>,
    pub marked: Option<bool>,
    pub assignee: Option<Option<u64>>,
}

#[derive(Default, Clone)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub due_ms: Option<Option<i64>>,
    pub assignee: Option<Option<u64>>,
    pub done: Option<bool>,
}

#[derive(Default, Clone)]
pub struct ChatPatch {
    pub disabled: Option<bool>,
    pub bot_disabled: Option<bool>,
    pub assistant_on: Option<bool>,
    pub assistant: Option<Option<String>>,
}

fn validate_patch(p: &ContactPatch) -> Result<ContactPatch> {
    let mut p = p.clone();
    if let Some(n) = &p.name {
        let n = normalise::text(n, 200);
        if n.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        p.name = Some(n);
    }
    if let Some(ph) = &p.phones {
        let mut out = Vec::new();
        for raw in ph {
            let n = normalise::phone(raw).ok_or_else(|| {
                Error::invalid("phones", format!("{raw:?} is not a phone number"))
            })?;
            if !out.contains(&n) {
                out.push(n);
            }
        }
        p.phones = Some(out);
    }
    if let Some(em) = &p.emails {
        let mut out = Vec::new();
        for raw in em {
            let n = normalise::email(raw).ok_or_else(|| {
                Error::invalid("emails", format!("{raw:?} is not an e-mail address"))
            })?;
            if !out.contains(&n) {
                out.push(n);
            }
        }
        p.emails = Some(out);
    }
    if let Some(cf) = &p.custom_fields
        && (cf.len() > 100
            || cf
                .iter()
                .any(|(k, v)| k.is_empty() || k.len() > 64 || v.len() > 4096))
    {
        return Err(Error::invalid(
            "custom_fields",
            "at most 100 fields, keys 1–64 bytes, values ≤ 4 KiB",
        ));
    }
    if let Some(Some(plan)) = &p.sales_plan {
        let plan = normalise::text(plan, 100);
        p.sales_plan = Some((!plan.is_empty()).then_some(plan));
    }
    Ok(p)
}

impl Inbox {
    /// Write `f`'s change to a contact, with the row/count events.
    async fn change_contact<F>(&self, contact_id: u64, f: F) -> Result<Contact>
    where
        F: Fn(&W, &mut Contact) -> Result<()> + Send + 'static,
    {
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                let old = w.contact_or_404(contact_id)?;
                let mut c = old.clone();
                f(w, &mut c)?;
                db::put_contact(w, Some(&old), &c)?;
                w.emit(None, Event::ContactUpdated(c.clone()))?;
                emit_row(w, &c, &channels)?;
                Ok(c)
            })
            .await
    }

    pub async fn update_contact(
        &self,
        manager: ManagerId,
        id: u64,
        patch: ContactPatch,
    ) -> Result<Contact> {
        let manager = manager.0;
        let p = validate_patch(&patch)?;
        self.change_contact(id, move |w, c| {
            let who = manager_name(w, manager)?;
            if let Some(n) = &p.name {
                c.name.clone_from(n);
            }
            if let Some(v) = &p.phones {
                c.phones.clone_from(v);
            }
            if let Some(v) = &p.emails {
                c.emails.clone_from(v);
            }
            if let Some(v) = &p.custom_fields {
                c.custom_fields.clone_from(v);
            }
            if let Some(v) = &p.sales_plan {
                c.sales_plan.clone_from(v);
            }
            if let Some(m) = p.marked {
                c.marked = m;
            }
            if let Some(a) = p.archived {
                archive_tx(w, c, a, manager)?;
            }
            if let Some(b) = p.blacklisted
                && b != c.blacklisted
            {
                c.blacklisted = b;
                let (ev, text) = if b {
                    ("blacklisted", format!("{who} blacklisted the client"))
                } else {
                    (
                        "unblacklisted",
                        format!("{who} removed the client from the blacklist"),
                    )
                };
                record_event(w, c, ev, &text, Some(manager))?;
            }
            if let Some(to) = p.assignee
                && to != c.assignee
            {
                super::assignment::assign(w, c, to, Some(manager), By::Named(&who), None)?;
            }
            Ok(())
        })
        .await
    }

    pub async fn add_tag(&self, manager: ManagerId, id: u64, tag: String) -> Result<Contact> {
        let tag = clean_tag(&tag)?;
        let funnels = self.live_funnels();
        let fired = self
            .change_contact(id, move |w, c| {
                add_tag_tx(w, &funnels, c, &tag, manager.0).map(|_| ())
            })
            .await?;
        self.automation_wake.notify_one();
        Ok(fired)
    }

    pub async fn remove_tag(&self, manager: ManagerId, id: u64, tag: String) -> Result<Contact> {
        self.change_contact(id, move |w, c| {
            remove_tag_tx(w, c, &tag, manager.0).map(|_| ())
        })
        .await
    }

    pub async fn add_task(
        &self,
        manager: ManagerId,
        contact_id: u64,
        title: String,
        due_ms: Option<i64>,
        assignee: Option<u64>,
    ) -> Result<Task> {
        let manager = manager.0;
        let title = normalise::text(&title, 500);
        if title.is_empty() {
            return Err(Error::invalid("title", "must not be empty"));
        }
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                if let Some(a) = assignee
                    && w.manager(a)?.is_none()
                {
                    return Err(Error::invalid(
                        "assignee",
                        format!("no manager with id {a}"),
                    ));
                }
                let old = w.contact_or_404(contact_id)?;
                let mut c = old.clone();
                let t = Task {
                    id: w.next_id("task")?,
                    contact_id,
                    title: title.clone(),
                    due_ms,
                    assignee,
                    done: false,
                    created_ms: store::now_ms(),
                    created_by: Some(manager),
                };
                db::put_task(w, &t)?;
                c.open_tasks += 1;
                let who = manager_name(w, manager)?;
                record_event(
                    w,
                    &mut c,
                    "task_added",
                    &format!("{who} added a task: {title}"),
                    Some(manager),
                )?;
                if let Some(a) = assignee {
                    let to = manager_name(w, a)?;
                    record_event(
                        w,
                        &mut c,
                        "assigned",
                        &format!("{who} assigned the task to {to}"),
                        Some(manager),
                    )?;
                }
                db::put_contact(w, Some(&old), &c)?;
                w.emit(None, Event::TaskUpdated(t.clone()))?;
                emit_row(w, &c, &channels)?;
                Ok(t)
            })
            .await
    }

    pub async fn update_task(
        &self,
        manager: ManagerId,
        task_id: u64,
        p: TaskPatch,
    ) -> Result<Task> {
        let manager = manager.0;
        if let Some(t) = &p.title
            && normalise::text(t, 500).is_empty()
        {
            return Err(Error::invalid("title", "must not be empty"));
        }
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                let mut t = w
                    .task(task_id)?
                    .ok_or_else(|| Error::NotFound(format!("task {task_id}")))?;
                let old = w.contact_or_404(t.contact_id)?;
                let mut c = old.clone();
                let who = manager_name(w, manager)?;
                if let Some(title) = &p.title {
                    t.title = normalise::text(title, 500);
                }
                if let Some(d) = p.due_ms {
                    t.due_ms = d;
                }
                if let Some(a) = p.assignee
                    && a != t.assignee
                {
                    if let Some(id) = a {
                        if w.manager(id)?.is_none() {
                            return Err(Error::invalid(
                                "assignee",
                                format!("no manager with id {id}"),
                            ));
                        }
                        let to = manager_name(w, id)?;
                        record_event(
                            w,
                            &mut c,
                            "assigned",
                            &format!("{who} assigned “{}” to {to}", t.title),
                            Some(manager),
                        )?;
                    }
                    t.assignee = a;
                }
                if let Some(done) = p.done
                    && done != t.done
                {
                    t.done = done;
                    if done {
                        c.open_tasks = c.open_tasks.saturating_sub(1);
                        record_event(
                            w,
                            &mut c,
                            "task_done",
                            &format!("{who} completed the task: {}", t.title),
                            Some(manager),
                        )?;
                    } else {
                        c.open_tasks += 1;
                        record_event(
                            w,
                            &mut c,
                            "task_reopened",
                            &format!("{who} reopened the task: {}", t.title),
                            Some(manager),
                        )?;
                    }
                }
                db::put_task(w, &t)?;
                db::put_contact(w, Some(&old), &c)?;
                w.emit(None, Event::TaskUpdated(t.clone()))?;
                emit_row(w, &c, &channels)?;
                Ok(t)
            })
            .await
    }

    /// Open a dialog with a client, or return the one already open. `bool` = newly opened.
    pub async fn open_dialog(&self, manager: ManagerId, contact_id: u64) -> Result<(Dialog, bool)> {
        let manager = manager.0;
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                let old = w.contact_or_404(contact_id)?;
                if let Some(id) = old.open_dialog
                    && let Some(d) = w.dialog(id)?
                {
                    return Ok((d, false));
                }
                let mut c = old.clone();
                let d = Dialog {
                    id: w.next_id("dialog")?,
                    contact_id,
                    manager_id: manager,
                    opened_ms: store::now_ms(),
                    closed_ms: None,
                };
                db::put_dialog(w, &d)?;
                c.open_dialog = Some(d.id);
                let who = manager_name(w, manager)?;
                record_event(
                    w,
                    &mut c,
                    "dialog_opened",
                    &format!("{who} opened a dialog"),
                    Some(manager),
                )?;
                db::put_contact(w, Some(&old), &c)?;
                w.emit(None, Event::DialogUpdated(d.clone()))?;
                emit_row(w, &c, &channels)?;
                Ok((d, true))
            })
            .await
    }

    pub async fn close_dialog(&self, manager: ManagerId, dialog_id: u64) -> Result<Dialog> {
        let manager = manager.0;
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                let mut d = w
                    .dialog(dialog_id)?
                    .ok_or_else(|| Error::NotFound(format!("dialog {dialog_id}")))?;
                if d.closed_ms.is_some() {
                    return Ok(d);
                }
                let old = w.contact_or_404(d.contact_id)?;
                let mut c = old.clone();
                d.closed_ms = Some(store::now_ms());
                db::put_dialog(w, &d)?;
                super::reports::record_resolution(w, &d)?;
                if c.open_dialog == Some(d.id) {
                    c.open_dialog = None;
                }
                let who = manager_name(w, manager)?;
                record_event(
                    w,
                    &mut c,
                    "dialog_closed",
                    &format!("{who} closed the dialog"),
                    Some(manager),
                )?;
                db::put_contact(w, Some(&old), &c)?;
                w.emit(None, Event::DialogUpdated(d.clone()))?;
                emit_row(w, &c, &channels)?;
                Ok(d)
            })
            .await
    }

    /// Change a chat's switches (H2–H4) or reset its assistant, as `manager`. Each change
    /// leaves a system message in the chat and an entry in the client log naming the manager.
    /// `assistants` are the configured `[[assistants]]` (id, name): the AI switch can only be
    /// on with one of them chosen; turned on with none chosen, it takes the first.
    pub async fn update_chat(
        &self,
        manager: ManagerId,
        chat_id: u64,
        p: ChatPatch,
        reset_assistant: bool,
        assistants: Vec<(String, String)>,
    ) -> Result<ChatView> {
        let manager = manager.0;
        let channels = self.channels.clone();
        self.store
            .write(move |w| {
                let before = w.chat_or_404(chat_id)?;
                let mut chat = before.clone();
                let known = |id: &str| assistants.iter().find(|(a, _)| a == id);
                if let Some(Some(a)) = &p.assistant
                    && known(a).is_none()
                {
                    return Err(Error::invalid(
                        "assistant",
                        format!("no assistant {a:?} in the config"),
                    ));
                }
                if let Some(v) = p.disabled {
                    chat.disabled = v;
                }
                if let Some(v) = p.bot_disabled {
                    chat.bot_disabled = v;
                }
                if let Some(v) = p.assistant_on {
                    chat.assistant_on = v;
                }
                if let Some(v) = &p.assistant {
                    chat.assistant.clone_from(v);
                }
                if reset_assistant {
                    // The assistant's conversation state lives with the automation (later);
                    // resetting drops the choice and switches it off so the next run starts fresh.
                    chat.assistant_on = false;
                    chat.assistant = None;
                }
                if chat.assistant_on
                    && (!before.assistant_on || chat.assistant != before.assistant)
                {
                    let Some((first, _)) = assistants.first() else {
                        return Err(Error::invalid(
                            "assistant_on",
                            "no AI assistant is configured (add one under [[assistants]] in the config file)",
                        ));
                    };
                    match &chat.assistant {
                        None => chat.assistant = Some(first.clone()),
                        Some(a) if known(a).is_none() => {
                            return Err(Error::invalid(
                                "assistant",
                                format!("the chat's assistant {a:?} is no longer in the config; choose another"),
                            ));
                        }
                        Some(_) => {}
                    }
                }
                let name = |id: &Option<String>| {
                    id.as_deref()
                        .map(|a| known(a).map_or(a, |(_, n)| n.as_str()).to_string())
                };
                let mut events: Vec<(&str, String)> = Vec::new();
                if chat.disabled != before.disabled {
                    events.push(if chat.disabled {
                        ("chat_disabled", "disabled the chat".into())
                    } else {
                        ("chat_enabled", "enabled the chat".into())
                    });
                }
                if chat.bot_disabled != before.bot_disabled {
                    events.push(if chat.bot_disabled {
                        ("bot_disabled", "disabled bot messages".into())
                    } else {
                        ("bot_enabled", "enabled bot messages".into())
                    });
                }
                if reset_assistant {
                    events.push(("assistant_reset", "reset the AI assistant".into()));
                } else if chat.assistant_on != before.assistant_on {
                    events.push(match (chat.assistant_on, name(&chat.assistant)) {
                        (true, Some(n)) => ("assistant_on", format!("turned the AI assistant on ({n})")),
                        (true, None) => ("assistant_on", "turned the AI assistant on".into()),
                        (false, _) => ("assistant_off", "turned the AI assistant off".into()),
                    });
                } else if chat.assistant != before.assistant {
                    events.push(match name(&chat.assistant) {
                        Some(n) => ("assistant_chosen", format!("chose the AI assistant {n}")),
                        None => ("assistant_cleared", "cleared the AI assistant choice".into()),
                    });
                }
                if !events.is_empty() {
                    let old_contact = w.contact_or_404(chat.contact_id)?;
                    let mut contact = old_contact.clone();
                    let who = manager_name(w, manager)?;
                    let channel = channels.name(&chat.channel_id);
                    let now = store::now_ms();
                    for (event, what) in events {
                        // The log lists every chat of the client, so it names the channel.
                        db::add_log(
                            w,
                            contact.id,
                            event,
                            &format!("{who} {what} in the {channel} chat"),
                            Some(manager),
                            now,
                        )?;
                        system_message(
                            w,
                            &mut chat,
                            &mut contact,
                            event,
                            &format!("{who} {what}"),
                            Some(manager),
                            now,
                        )?;
                    }
                    db::put_contact(w, Some(&old_contact), &contact)?;
                }
                db::put_chat(w, &chat)?;
                if reset_assistant
                    || (before.assistant_on
                        && (!chat.assistant_on || chat.assistant != before.assistant))
                {
                    crate::store::assistant::on_switch(w, chat.id, reset_assistant)?;
                }
                // H2: a disabled chat's funnel runs end for good; enabling it again does not
                // bring them back.
                if chat.disabled && !before.disabled {
                    super::automation::cancel_chat_runs(w, &chat, "cancelled: the chat was disabled")?;
                    chat = w.chat_or_404(chat_id)?;
                }
                let view = chat_view(&chat, &channels);
                w.emit(None, Event::ChatFlags(view.clone()))?;
                Ok(view)
            })
            .await
    }

    pub async fn read_notification(
        &self,
        manager: ManagerId,
        id: Option<u64>,
    ) -> Result<Option<NotificationView>> {
        let manager = manager.0;
        self.store
            .write(move |w| {
                let list = match id {
                    Some(id) => vec![
                        w.notification(manager, id)?
                            .ok_or_else(|| Error::NotFound(format!("notification {id}")))?,
                    ],
                    None => w
                        .notifications(manager, 10_000)?
                        .into_iter()
                        .filter(|n| !n.read)
                        .collect(),
                };
                let mut last = None;
                for mut n in list {
                    let was = !n.read;
                    n.read = true;
                    db::put_notification(w, &n, Some(was))?;
                    last = Some(notification_view(w, &n)?);
                }
                let unread = w.unread_notifications(manager)?;
                w.emit(Some(manager), Event::NotificationsRead { unread })?;
                Ok(last)
            })
            .await
    }
}
