//! Merging clients: everything that hangs off a contact is re-keyed to another one, and the
//! merged-away id remembers where it went. The caller runs it in one transaction.

use super::*;
use crate::domain::automation::Run;
use crate::store::W;

/// Where a merged-away contact went (following later merges of the primary too).
pub fn merged_into<T: Read + ?Sized>(r: &T, id: u64) -> Result<Option<u64>> {
    let mut at = id;
    let mut hops = 0;
    while let Some(b) = r.get_raw(MERGED, &k(at))? {
        at = codec::read_u64(&b, 0)?;
        hops += 1;
        if hops > 64 {
            return Err(Error::Corrupt(format!("merge chain of contact {id}")));
        }
    }
    Ok((hops > 0).then_some(at))
}

/// Keys `owner ++ id` under `owner` in a pair index, all of them.
fn ids_under<T: Read>(r: &T, table: Table, owner: u64) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rows = r.scan(table, &k(owner), after.as_deref(), false, 1000)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (key, _) in rows {
            out.push(codec::read_u64(&key, 8)?);
        }
    }
    Ok(out)
}

/// What moved in a merge, for the log line.
#[derive(Default, Debug)]
pub struct Moved {
    pub chats: usize,
    pub tasks: usize,
    /// The orders that moved (their boards show the primary now).
    pub orders: Vec<u64>,
    pub log: usize,
}

/// Move the chats, tasks, dialogs, orders, funnel runs and log of `from` to `to`, delete
/// `from` with its list rows and lookups, and remember the merge. The caller merges the
/// contact fields into `to` and stores it (after this call, since this changes counts it
/// does not own: chat count, open tasks, unread).
pub fn move_contact(w: &W, from: &Contact, to: u64) -> Result<Moved> {
    let mut moved = Moved::default();
    for chat_id in ids_under(w, CONTACT_CHATS, from.id)? {
        w.del(CONTACT_CHATS, &pair(from.id, chat_id))?;
        w.put_raw(CONTACT_CHATS, &pair(to, chat_id), &[])?;
        if let Some(mut c) = w.chat(chat_id)? {
            c.contact_id = to;
            put_chat(w, &c)?;
            moved.chats += 1;
        }
    }
    for id in ids_under(w, CONTACT_TASKS, from.id)? {
        w.del(CONTACT_TASKS, &pair(from.id, id))?;
        if let Some(mut t) = w.task(id)? {
            t.contact_id = to;
            put_task(w, &t)?;
            moved.tasks += 1;
        }
    }
    for id in ids_under(w, CONTACT_DIALOGS, from.id)? {
        w.del(CONTACT_DIALOGS, &pair(from.id, id))?;
        if let Some(mut d) = w.dialog(id)? {
            d.contact_id = to;
            put_dialog(w, &d)?;
        }
    }
    for id in ids_under(w, CONTACT_ORDERS, from.id)? {
        if let Some(old) = order(w, id)? {
            let mut o = old.clone();
            o.contact_id = to;
            put_order(w, Some(&old), &mut o)?;
            moved.orders.push(id);
        }
    }
    for id in ids_under(w, CONTACT_RUNS, from.id)? {
        w.del(CONTACT_RUNS, &pair(from.id, id))?;
        w.put_raw(CONTACT_RUNS, &pair(to, id), &[])?;
        if let Some(mut run) = w.get::<Run>(RUNS, &k(id))? {
            run.contact_id = to;
            w.put(RUNS, &k(id), &run)?;
        }
    }
    for (key, v) in scan_all(w, CONTACT_LOG, from.id)? {
        let id = codec::read_u64(&key, 8)?;
        let mut e: LogEntry = codec::decode(&v)?;
        e.contact_id = to;
        w.del(CONTACT_LOG, &key)?;
        w.put(CONTACT_LOG, &pair(to, id), &e)?;
        moved.log += 1;
    }
    for (other, _) in merge_suggestions(w, from.id)? {
        w.del(MERGE_SUGGESTIONS, &pair(from.id, other))?;
        w.del(MERGE_SUGGESTIONS, &pair(other, from.id))?;
    }
    delete_contact(w, from)?;
    w.put_raw(MERGED, &k(from.id), &k(to))?;
    Ok(moved)
}

fn scan_all<T: Read>(r: &T, table: Table, owner: u64) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    loop {
        let rows = r.scan(
            table,
            &k(owner),
            out.last()
                .map(|(key, _): &(Vec<u8>, Vec<u8>)| key.as_slice()),
            false,
            1000,
        )?;
        if rows.is_empty() {
            return Ok(out);
        }
        out.extend(rows);
    }
}
