//! The outbox: deliveries waiting for their channel, ordered by when they are due.

use super::{k, pair};
use crate::domain::inbox::*;
use crate::error::{Error, Result};
use crate::store::tables::*;
use crate::store::{Read, Record, W, codec};

impl Record for Delivery {
    /// 2 added `parts_sent`.
    const VERSION: u8 = 2;
    const NAME: &'static str = "delivery";
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct V1 {
            message_id: u64,
            chat_id: u64,
            attempts: u32,
            due_ms: i64,
            last_error: Option<String>,
        }
        if version != 1 {
            return Err(Error::Corrupt(format!(
                "delivery row has unknown format version {version}"
            )));
        }
        let v: V1 = postcard::from_bytes(bytes)
            .map_err(|e| Error::Corrupt(format!("delivery row (version 1): {e}")))?;
        Ok(Delivery {
            message_id: v.message_id,
            chat_id: v.chat_id,
            attempts: v.attempts,
            due_ms: v.due_ms,
            last_error: v.last_error,
            parts_sent: 0,
        })
    }
}

impl Record for crate::domain::broadcast::WaTemplate {
    const NAME: &'static str = "whatsapp template";
}

/// Send this bot message as a WhatsApp template (written with the message).
pub fn put_wa_template(
    w: &W,
    message_id: u64,
    t: &crate::domain::broadcast::WaTemplate,
) -> Result<()> {
    w.put(MESSAGE_WA_TEMPLATES, &k(message_id), t)
}

/// The WhatsApp template this message goes out as, if it is one.
pub fn wa_template<T: Read>(
    r: &T,
    message_id: u64,
) -> Result<Option<crate::domain::broadcast::WaTemplate>> {
    r.get(MESSAGE_WA_TEMPLATES, &k(message_id))
}

/// Queue a delivery; `due_ms` orders the outbox.
pub fn enqueue(w: &W, d: &Delivery) -> Result<()> {
    w.put_raw(OUTBOX_DUE, &k(d.message_id), &k(d.due_ms as u64))?;
    w.put(OUTBOX, &pair(d.due_ms as u64, d.message_id), d)
}

pub fn dequeue(w: &W, d: &Delivery) -> Result<bool> {
    if w.get_raw(OUTBOX_DUE, &k(d.message_id))?.as_deref() == Some(&k(d.due_ms as u64)[..]) {
        w.del(OUTBOX_DUE, &k(d.message_id))?;
    }
    w.del(OUTBOX, &pair(d.due_ms as u64, d.message_id))
}

/// The delivery of this message still waiting in the outbox, if any.
pub fn pending_delivery<T: Read>(r: &T, message_id: u64) -> Result<Option<Delivery>> {
    let Some(due) = r.get_raw(OUTBOX_DUE, &k(message_id))? else {
        return Ok(None);
    };
    let due = codec::read_u64(&due, 0)?;
    r.get(OUTBOX, &pair(due, message_id))
}

/// Whether this delivery is still waiting in the outbox (not yet recorded or rescheduled).
pub fn queued<T: Read>(r: &T, d: &Delivery) -> Result<bool> {
    r.exists(OUTBOX, &pair(d.due_ms as u64, d.message_id))
}

/// The stored row of a delivery still waiting (its progress may be newer than `d`'s).
pub fn queued_row<T: Read>(r: &T, d: &Delivery) -> Result<Option<Delivery>> {
    r.get(OUTBOX, &pair(d.due_ms as u64, d.message_id))
}

/// Deliveries due at or before `now`, oldest first.
pub fn due<T: Read>(r: &T, now: i64, limit: usize) -> Result<Vec<Delivery>> {
    let mut out = Vec::new();
    for (key, v) in r.scan(OUTBOX, &[], None, false, limit)? {
        if codec::read_u64(&key, 0)? as i64 > now {
            break;
        }
        out.push(codec::decode(&v)?);
    }
    Ok(out)
}

/// When the next delivery is due, if any.
pub fn next_due<T: Read>(r: &T) -> Result<Option<i64>> {
    match r.scan(OUTBOX, &[], None, false, 1)?.first() {
        Some((key, _)) => Ok(Some(codec::read_u64(key, 0)? as i64)),
        None => Ok(None),
    }
}

/// How many deliveries wait in the outbox.
pub fn outbox_len<T: Read>(r: &T) -> Result<u64> {
    r.len(OUTBOX)
}

#[cfg(test)]
mod delivery_tests {
    use super::*;

    #[test]
    fn a_delivery_row_of_the_previous_version_is_read() {
        #[derive(serde::Serialize)]
        struct V1 {
            message_id: u64,
            chat_id: u64,
            attempts: u32,
            due_ms: i64,
            last_error: Option<String>,
        }
        let mut old = vec![1u8];
        old.extend(
            postcard::to_allocvec(&V1 {
                message_id: 7,
                chat_id: 3,
                attempts: 2,
                due_ms: 1_700_000_000_000,
                last_error: Some("HTTP 502".into()),
            })
            .unwrap(),
        );
        let d: Delivery = codec::decode(&old).unwrap();
        assert_eq!((d.message_id, d.chat_id, d.attempts), (7, 3, 2));
        assert_eq!(d.last_error.as_deref(), Some("HTTP 502"));
        assert_eq!(d.parts_sent, 0);
        let new = codec::encode(&Delivery { parts_sent: 2, ..d }).unwrap();
        assert_eq!(new[0], 2);
        assert_eq!(codec::decode::<Delivery>(&new).unwrap().parts_sent, 2);
    }
}
