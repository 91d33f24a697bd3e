//! Which contact a client's phone or e-mail may join. Messenger platforms vouch for the
//! details they send; a website visitor types anything, so their details never link them to
//! someone else's row: such pairs become merge suggestions a manager decides on.

use crate::domain::inbox::{Inbound, MergeSuggestion};
use crate::error::Result;
use crate::store::inbox::{self as db, InboxReads};
use crate::store::prelude::*;
use crate::store::{self, W};

/// Whether the details of `inb` come from someone nobody identified (a website visitor types
/// any phone or e-mail). Messenger platforms vouch for theirs (a WhatsApp number, a Telegram
/// user's own shared contact), and the API channel is a signed integration.
pub(crate) fn anonymous_source(inb: &Inbound) -> bool {
    inb.channel_kind == "widget"
}

/// Whether every chat of the contact is a website-widget chat: its phone and e-mail are only
/// what visitors typed. A contact without chats was entered by a manager and is trusted.
fn unverified_contact<T: Read>(r: &T, contact_id: u64) -> Result<bool> {
    let chats = r.contact_chats(contact_id)?;
    Ok(!chats.is_empty() && chats.iter().all(|c| c.channel_kind == "widget"))
}

/// The first of `candidates` a verified phone or e-mail may link to: not a visitor's
/// contact, whose details nobody checked (otherwise a visitor could claim a number before its
/// owner first writes and receive their row).
pub(crate) fn first_linkable<T: Read>(r: &T, candidates: &[u64]) -> Result<Option<u64>> {
    for &id in candidates {
        if !unverified_contact(r, id)? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Record a merge suggestion between `contact_id` and every other client with the same
/// phone or e-mail when either side's details are unverified. A dismissed pair stays
/// dismissed.
pub(crate) fn suggest_merges(
    w: &W,
    contact_id: u64,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<()> {
    let mut others = Vec::new();
    if let Some(p) = phone {
        others.extend(
            w.contacts_by_phone(p)?
                .into_iter()
                .map(|id| (id, "same phone")),
        );
    }
    if let Some(e) = email {
        others.extend(
            w.contacts_by_email(e)?
                .into_iter()
                .map(|id| (id, "same e-mail")),
        );
    }
    let mut this_unverified = None;
    for (other, reason) in others {
        if other == contact_id || db::merge_suggestion(w, contact_id, other)?.is_some() {
            continue;
        }
        let this = match this_unverified {
            Some(v) => v,
            None => *this_unverified.insert(unverified_contact(w, contact_id)?),
        };
        if !this && !unverified_contact(w, other)? {
            continue;
        }
        let s = MergeSuggestion {
            reason: reason.to_string(),
            created_ms: store::now_ms(),
            dismissed: false,
        };
        db::put_merge_suggestion(w, contact_id, other, &s)?;
    }
    Ok(())
}
