//! Report rollups (T3): each chat's state for the next message's figures, and the figures per
//! UTC hour × channel × manager, updated in the transaction that stores each message.

use super::tables::{REPORT_CHATS, ROLLUPS};
use super::{Key, Read, Record, W, codec};
use crate::domain::report::{ChatState, Rollup};
use crate::error::Result;

impl Record for ChatState {
    const NAME: &'static str = "report chat state";
}

impl Record for Rollup {
    const NAME: &'static str = "report rollup";
}

/// Rows read per page when summing a span.
const PAGE: usize = 10_000;

pub fn chat_state<T: Read>(r: &T, chat_id: u64) -> Result<ChatState> {
    Ok(r.get(REPORT_CHATS, &codec::u64_key(chat_id))?
        .unwrap_or_default())
}

pub fn put_chat_state(w: &W, chat_id: u64, s: &ChatState) -> Result<()> {
    w.put(REPORT_CHATS, &codec::u64_key(chat_id), s)
}

fn key(hour: i64, channel: &str, manager: u64) -> Vec<u8> {
    Key::new().i64(hour).str(channel).u64(manager).build()
}

/// Change one hour × channel × manager's figures.
pub fn add(
    w: &W,
    hour: i64,
    channel: &str,
    manager: u64,
    f: impl FnOnce(&mut Rollup),
) -> Result<()> {
    let k = key(hour, channel, manager);
    let mut r: Rollup = w.get(ROLLUPS, &k)?.unwrap_or_default();
    f(&mut r);
    w.put(ROLLUPS, &k, &r)
}

/// One stored row: its hour, channel, manager and figures.
pub struct Row {
    pub hour: i64,
    pub channel: String,
    pub manager: u64,
    pub figures: Rollup,
}

/// Every row of the hours `from..to`, in hour order, passed to `each`.
pub fn rows<T: Read>(r: &T, from: i64, to: i64, mut each: impl FnMut(Row)) -> Result<()> {
    // Channel ids are UTF-8, so no key of hour `from - 1` reaches the 0xFF after it.
    let mut after = Key::new()
        .i64(from.saturating_sub(1))
        .bytes(&[0xFF])
        .build();
    loop {
        let page = r.scan(ROLLUPS, &[], Some(&after), false, PAGE)?;
        let full = page.len() == PAGE;
        for (k, v) in page {
            let hour = codec::read_i64(&k, 0)?;
            if hour >= to {
                return Ok(());
            }
            let rest = k.get(8..).unwrap_or_default();
            let nul = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let channel = String::from_utf8_lossy(&rest[..nul]).into_owned();
            let manager = codec::read_u64(rest, nul + 1)?;
            each(Row {
                hour,
                channel,
                manager,
                figures: codec::decode(&v)?,
            });
            after = k;
        }
        if !full {
            return Ok(());
        }
    }
}
