//! Contacts and the indexes kept in step with them: the list sections (by last activity)
//! and the phone and e-mail lookups.

use super::*;
use crate::store::{Key, Read, W, codec};

/// The index table that lists a section.
pub(super) fn section_table(section: Section) -> Table {
    match section {
        Section::All => SEC_ALL,
        Section::Unread => SEC_UNREAD,
        Section::Important => SEC_IMPORTANT,
        Section::Dialogs => SEC_DIALOGS,
    }
}

impl codec::Record for Contact {
    const VERSION: u8 = 2;
    const NAME: &'static str = "contact";

    fn upgrade(version: u8, bytes: &[u8]) -> Result<Contact> {
        match version {
            1 => {
                let v1: ContactV1 = postcard::from_bytes(bytes)
                    .map_err(|e| Error::Corrupt(format!("contact row (format 1): {e}")))?;
                Ok(v1.into())
            }
            v => Err(Error::Corrupt(format!(
                "contact row has unknown format version {v}"
            ))),
        }
    }
}

/// A contact as stored before assignment (T1) existed.
#[derive(serde::Deserialize)]
struct ContactV1 {
    id: u64,
    name: String,
    phones: Vec<String>,
    emails: Vec<String>,
    tags: Vec<String>,
    custom_fields: std::collections::BTreeMap<String, String>,
    sales_plan: Option<String>,
    archived: bool,
    blacklisted: bool,
    marked: bool,
    created_ms: i64,
    last_activity_ms: i64,
    unread: u32,
    open_tasks: u32,
    chat_count: u32,
    open_dialog: Option<u64>,
}

impl From<ContactV1> for Contact {
    fn from(c: ContactV1) -> Contact {
        Contact {
            id: c.id,
            name: c.name,
            phones: c.phones,
            emails: c.emails,
            tags: c.tags,
            custom_fields: c.custom_fields,
            sales_plan: c.sales_plan,
            archived: c.archived,
            blacklisted: c.blacklisted,
            marked: c.marked,
            created_ms: c.created_ms,
            last_activity_ms: c.last_activity_ms,
            unread: c.unread,
            open_tasks: c.open_tasks,
            chat_count: c.chat_count,
            open_dialog: c.open_dialog,
            assignee: None,
        }
    }
}

/// The manager whose open conversation this contact is, if it is one (see `ASSIGNED_OPEN`).
fn open_with(c: &Contact) -> Option<u64> {
    c.assignee
        .filter(|_| !c.archived && (c.unread > 0 || c.open_dialog.is_some()))
}

fn assigned_key(c: &Contact) -> Option<Vec<u8>> {
    c.assignee
        .filter(|_| Section::All.holds(c))
        .map(|m| Key::new().u64(m).i64(c.last_activity_ms).u64(c.id).build())
}

/// The ids of `manager`'s clients in the list, newest activity first (or oldest), at most
/// `limit`.
pub fn assigned_ids<T: Read>(r: &T, manager: u64, newest: bool, limit: usize) -> Result<Vec<u64>> {
    let prefix = Key::new().u64(manager).build();
    r.scan(ASSIGNED_LIST, &prefix, None, newest, limit)?
        .iter()
        .map(|(k, _)| codec::read_u64(k, 16))
        .collect()
}

/// How many open conversations `manager` holds, counting up to `limit`.
pub fn open_conversations<T: Read>(r: &T, manager: u64, limit: usize) -> Result<u64> {
    let prefix = Key::new().u64(manager).build();
    Ok(r.scan(ASSIGNED_OPEN, &prefix, None, false, limit)?.len() as u64)
}

/// Contacts with unread messages, the longest waiting first: up to `limit` (cursor, contact
/// id) pairs after the cursor `after`.
pub fn unread_oldest<T: Read>(
    r: &T,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, u64)>> {
    Ok(r.scan(SEC_UNREAD, &[], after, false, limit)?
        .into_iter()
        .filter_map(|(k, _)| {
            let id = u64::from_be_bytes(k.get(8..16)?.try_into().ok()?);
            Some((k, id))
        })
        .collect())
}

fn section_key(c: &Contact) -> Vec<u8> {
    Key::new().i64(c.last_activity_ms).u64(c.id).build()
}

/// Store a contact and keep its section rows and phone/e-mail indexes in step.
pub fn put_contact(w: &W, old: Option<&Contact>, new: &Contact) -> Result<()> {
    let new_key = section_key(new);
    for s in Section::ALL {
        let was = old.filter(|o| s.holds(o)).map(section_key);
        let now = s.holds(new).then(|| new_key.clone());
        if was != now {
            if let Some(key) = &was {
                w.del(section_table(s), key)?;
            }
            if let Some(key) = &now {
                w.put_raw(section_table(s), key, &[])?;
            }
        }
    }
    let empty = Vec::new();
    let (old_phones, old_emails) = old.map_or((&empty, &empty), |o| (&o.phones, &o.emails));
    for (table, before, after) in [
        (PHONE_CONTACTS, old_phones, &new.phones),
        (EMAIL_CONTACTS, old_emails, &new.emails),
    ] {
        for gone in before.iter().filter(|p| !after.contains(p)) {
            w.del(table, &Key::new().str(gone).u64(new.id).build())?;
        }
        for added in after.iter().filter(|p| !before.contains(p)) {
            w.put_raw(table, &Key::new().str(added).u64(new.id).build(), &[])?;
        }
    }
    let (was, now) = (old.and_then(assigned_key), assigned_key(new));
    if was != now {
        if let Some(k) = &was {
            w.del(ASSIGNED_LIST, k)?;
        }
        if let Some(k) = &now {
            w.put_raw(ASSIGNED_LIST, k, &[])?;
        }
    }
    let (was, now) = (old.and_then(open_with), open_with(new));
    if was != now {
        if let Some(m) = was {
            w.del(ASSIGNED_OPEN, &pair(m, new.id))?;
        }
        if let Some(m) = now {
            w.put_raw(ASSIGNED_OPEN, &pair(m, new.id), &[])?;
        }
    }
    crate::store::search_log::contact(w, new.id)?;
    w.put(CONTACTS, &k(new.id), new)
}

/// Remove a contact with its list rows and phone/e-mail lookups; its search document goes
/// with the next indexer pass. What hangs off it must have moved already (`move_contact`).
pub fn delete_contact(w: &W, c: &Contact) -> Result<()> {
    let key = section_key(c);
    for s in Section::ALL {
        if s.holds(c) {
            w.del(section_table(s), &key)?;
        }
    }
    for p in &c.phones {
        w.del(PHONE_CONTACTS, &Key::new().str(p).u64(c.id).build())?;
    }
    for e in &c.emails {
        w.del(EMAIL_CONTACTS, &Key::new().str(e).u64(c.id).build())?;
    }
    if let Some(key) = assigned_key(c) {
        w.del(ASSIGNED_LIST, &key)?;
    }
    if let Some(m) = open_with(c) {
        w.del(ASSIGNED_OPEN, &pair(m, c.id))?;
    }
    w.del(CONTACTS, &k(c.id))?;
    crate::store::search_log::contact(w, c.id)
}

pub fn new_contact(w: &W, mut c: Contact) -> Result<Contact> {
    c.id = w.next_id("contact")?;
    put_contact(w, None, &c)?;
    Ok(c)
}

/// A page of contacts by id after `cursor` that satisfy `keep`, looking at no more than
/// `budget` contacts (so a filter that matches nothing cannot scan the whole store).
pub fn contacts_page<T: Read>(
    r: &T,
    cursor: Option<u64>,
    limit: usize,
    budget: usize,
    keep: impl Fn(&Contact) -> bool,
) -> Result<(Vec<Contact>, Option<u64>)> {
    let mut out = Vec::new();
    let mut after = cursor.map(k);
    let mut seen = 0;
    loop {
        let rows = r.scan(
            CONTACTS,
            &[],
            after.as_ref().map(|a| a.as_slice()),
            false,
            500,
        )?;
        if rows.is_empty() {
            return Ok((out, None));
        }
        for (key, v) in &rows {
            seen += 1;
            let c: Contact = codec::decode(v)?;
            if keep(&c) {
                out.push(c);
                if out.len() >= limit {
                    return Ok((out, Some(codec::read_u64(key, 0)?)));
                }
            }
            if seen >= budget {
                return Ok((out, Some(codec::read_u64(key, 0)?)));
            }
        }
        after = rows
            .last()
            .and_then(|(key, _)| key.as_slice().try_into().ok());
    }
}

/// How many contacts are stored.
pub fn contact_count<T: Read>(r: &T) -> Result<u64> {
    r.len(CONTACTS)
}

/// Up to `limit` contacts in id order after the key `after` (a previous page's last key),
/// each with its key.
pub fn contacts_after<T: Read>(
    r: &T,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Contact)>> {
    r.scan(CONTACTS, &[], after, false, limit)?
        .into_iter()
        .map(|(k, v)| Ok((k, codec::decode::<Contact>(&v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_stored_before_assignment_reads_with_none() {
        #[derive(serde::Serialize)]
        struct V1<'a> {
            id: u64,
            name: &'a str,
            phones: Vec<&'a str>,
            emails: Vec<&'a str>,
            tags: Vec<&'a str>,
            custom_fields: std::collections::BTreeMap<String, String>,
            sales_plan: Option<&'a str>,
            archived: bool,
            blacklisted: bool,
            marked: bool,
            created_ms: i64,
            last_activity_ms: i64,
            unread: u32,
            open_tasks: u32,
            chat_count: u32,
            open_dialog: Option<u64>,
        }
        let mut bytes = vec![1u8];
        bytes.extend(
            postcard::to_allocvec(&V1 {
                id: 7,
                name: "Ирина",
                phones: vec!["79991234567"],
                emails: vec![],
                tags: vec!["vip"],
                custom_fields: Default::default(),
                sales_plan: Some("Gold"),
                archived: false,
                blacklisted: true,
                marked: false,
                created_ms: 5,
                last_activity_ms: 9,
                unread: 2,
                open_tasks: 1,
                chat_count: 1,
                open_dialog: Some(3),
            })
            .unwrap(),
        );
        let c: Contact = codec::decode(&bytes).unwrap();
        assert_eq!(
            (c.id, c.name.as_str(), c.open_dialog),
            (7, "Ирина", Some(3))
        );
        assert!(c.blacklisted && c.assignee.is_none());
        let again: Contact = codec::decode(&codec::encode(&c).unwrap()).unwrap();
        assert_eq!(again.assignee, None);
        assert_eq!(again.tags, vec!["vip"]);
    }
}
