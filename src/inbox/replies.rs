//! Quick replies (T2): saved answers a manager inserts from the composer by typing `/` and
//! a shortcut. Personal ones are their owner's alone; shared ones everyone uses and only
//! admins make, change or delete. Variables stay in the text: the composer fills them for
//! the open chat, like chat templates.

use super::Inbox;
use crate::domain::inbox::{Attachment, QuickReply};
use crate::domain::manager::{ManagerId, Role};
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store::prelude::*;
use crate::store::replies as db_r;
use crate::store::{self, W};

const MAX_SHORTCUT: usize = 32;
const MAX_TEXT: usize = 4096;
const MAX_ATTACHMENTS: usize = 10;
/// Replies one list answers with at most.
const MAX_LISTED: usize = 200;

/// What a new reply or a change carries, checked by the service.
#[derive(Default)]
pub struct ReplyInput {
    pub shortcut: Option<String>,
    pub text: Option<String>,
    pub attachments: Option<Vec<Attachment>>,
    pub shared: Option<bool>,
}

/// `/Hello` → `hello`; letters (any script), digits, `-` and `_`, 1 to 32 of them.
fn shortcut(s: &str) -> Result<String> {
    let s = s.trim().trim_start_matches('/').to_lowercase();
    let n = s.chars().count();
    if n == 0 || n > MAX_SHORTCUT {
        return Err(Error::invalid(
            "shortcut",
            format!("must be 1 to {MAX_SHORTCUT} characters"),
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(Error::invalid(
            "shortcut",
            format!("{c:?} is not allowed: use letters, digits, - and _"),
        ));
    }
    Ok(s)
}

fn text(s: &str) -> Result<String> {
    let t = normalise::text(s, MAX_TEXT + 1);
    if t.is_empty() || t.chars().count() > MAX_TEXT {
        return Err(Error::invalid(
            "text",
            format!("must be 1 to {MAX_TEXT} characters"),
        ));
    }
    crate::domain::automation::check_template(&t).map_err(|m| Error::invalid("text", m))?;
    Ok(t)
}

/// Whether `manager` sees the reply (and may insert it).
fn visible(q: &QuickReply, manager: u64) -> bool {
    q.shared || q.owner == manager
}

/// The manager's role, or 403 for one who no longer exists.
fn role(w: &W, manager: u64) -> Result<Role> {
    w.manager(manager)?
        .filter(|m| !m.disabled)
        .map(|m| m.role)
        .ok_or_else(|| Error::Forbidden("no such manager".into()))
}

/// Shared replies are the admins' to manage; personal ones their owner's.
fn may_manage(q: &QuickReply, manager: u64, role: Role) -> bool {
    if q.shared {
        role == Role::Admin
    } else {
        q.owner == manager
    }
}

/// A shortcut is unique among what one manager sees (the shared replies and their own).
fn check_unique(w: &W, q: &QuickReply) -> Result<()> {
    let clash = db_r::replies(w)?.into_iter().find(|o| {
        o.id != q.id && o.shortcut == q.shortcut && (o.shared || q.shared || o.owner == q.owner)
    });
    match clash {
        Some(o) => Err(Error::Conflict(format!(
            "the shortcut /{} is taken by {}",
            q.shortcut,
            if o.shared {
                "a shared reply"
            } else {
                "another reply"
            }
        ))),
        None => Ok(()),
    }
}

impl Inbox {
    /// The replies `manager` sees, best match for `q` first: shortcut equal, then shortcut
    /// starting with it, then text containing it; without `q`, by shortcut.
    pub async fn replies(&self, manager: ManagerId, q: Option<String>) -> Result<Vec<QuickReply>> {
        let me = manager.0;
        let q = q
            .map(|s| s.trim().trim_start_matches('/').to_lowercase())
            .filter(|s| !s.is_empty());
        self.store
            .query(move |r| {
                let mut all: Vec<(u8, QuickReply)> = db_r::replies(r)?
                    .into_iter()
                    .filter(|x| visible(x, me))
                    .filter_map(|x| {
                        let rank = match &q {
                            None => 0,
                            Some(q) if x.shortcut == *q => 0,
                            Some(q) if x.shortcut.starts_with(q.as_str()) => 1,
                            Some(q) if x.shortcut.contains(q.as_str()) => 2,
                            Some(q) if x.text.to_lowercase().contains(q.as_str()) => 3,
                            Some(_) => return None,
                        };
                        Some((rank, x))
                    })
                    .collect();
                all.sort_by(|(ra, a), (rb, b)| {
                    (ra, &a.shortcut, a.id).cmp(&(rb, &b.shortcut, b.id))
                });
                Ok(all.into_iter().take(MAX_LISTED).map(|(_, x)| x).collect())
            })
            .await
    }

    pub async fn create_reply(&self, manager: ManagerId, input: ReplyInput) -> Result<QuickReply> {
        let me = manager.0;
        let sc = shortcut(input.shortcut.as_deref().unwrap_or(""))?;
        let tx = text(input.text.as_deref().unwrap_or(""))?;
        let atts = input.attachments.unwrap_or_default();
        if atts.len() > MAX_ATTACHMENTS {
            return Err(Error::invalid(
                "attachments",
                format!("at most {MAX_ATTACHMENTS}"),
            ));
        }
        let shared = input.shared.unwrap_or(false);
        self.store
            .write(move |w| {
                if shared && role(w, me)? != Role::Admin {
                    return Err(Error::Forbidden(
                        "only admins make shared quick replies".into(),
                    ));
                }
                if db_r::count(w)? >= db_r::MAX_REPLIES as u64 {
                    return Err(Error::Conflict(format!(
                        "at most {} quick replies",
                        db_r::MAX_REPLIES
                    )));
                }
                let now = store::now_ms();
                let q = QuickReply {
                    id: w.next_id("reply")?,
                    shortcut: sc.clone(),
                    text: tx.clone(),
                    attachments: atts.clone(),
                    shared,
                    owner: me,
                    created_ms: now,
                    updated_ms: now,
                };
                check_unique(w, &q)?;
                db_r::put_reply(w, &q)?;
                Ok(q)
            })
            .await
    }

    pub async fn update_reply(
        &self,
        manager: ManagerId,
        id: u64,
        input: ReplyInput,
    ) -> Result<QuickReply> {
        let me = manager.0;
        let sc = input.shortcut.as_deref().map(shortcut).transpose()?;
        let tx = input.text.as_deref().map(text).transpose()?;
        if input
            .attachments
            .as_ref()
            .is_some_and(|a| a.len() > MAX_ATTACHMENTS)
        {
            return Err(Error::invalid(
                "attachments",
                format!("at most {MAX_ATTACHMENTS}"),
            ));
        }
        self.store
            .write(move |w| {
                let not_found = || Error::NotFound(format!("quick reply {id}"));
                let old = db_r::reply(w, id)?
                    .filter(|q| visible(q, me))
                    .ok_or_else(not_found)?;
                let role = role(w, me)?;
                if !may_manage(&old, me, role) {
                    return Err(Error::Forbidden(
                        "only admins change shared quick replies".into(),
                    ));
                }
                let mut q = old.clone();
                if let Some(s) = &sc {
                    q.shortcut.clone_from(s);
                }
                if let Some(t) = &tx {
                    q.text.clone_from(t);
                }
                if let Some(a) = &input.attachments {
                    q.attachments.clone_from(a);
                }
                if let Some(s) = input.shared {
                    if s && role != Role::Admin {
                        return Err(Error::Forbidden(
                            "only admins make shared quick replies".into(),
                        ));
                    }
                    q.shared = s;
                }
                q.updated_ms = store::now_ms();
                check_unique(w, &q)?;
                db_r::put_reply(w, &q)?;
                Ok(q)
            })
            .await
    }

    pub async fn delete_reply(&self, manager: ManagerId, id: u64) -> Result<()> {
        let me = manager.0;
        self.store
            .write(move |w| {
                let q = db_r::reply(w, id)?
                    .filter(|q| visible(q, me))
                    .ok_or_else(|| Error::NotFound(format!("quick reply {id}")))?;
                if !may_manage(&q, me, role(w, me)?) {
                    return Err(Error::Forbidden(
                        "only admins delete shared quick replies".into(),
                    ));
                }
                db_r::delete_reply(w, id)?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::shortcut;

    #[test]
    fn shortcuts_are_folded_and_checked() {
        assert_eq!(shortcut("/Hello").unwrap(), "hello");
        assert_eq!(shortcut(" Привет_1 ").unwrap(), "привет_1");
        for bad in ["", "/", "a b", "a/b", &"x".repeat(33)] {
            assert!(shortcut(bad).is_err(), "{bad:?}");
        }
    }
}
