//! Report rollups (T3): each chat's state for the next message's figures, and the figures per
//! local day × channel × manager, updated in the transaction that stores each message.

use super::tables::{META, REPORT_CHATS, ROLLUPS};
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

const TZ_KEY: &[u8] = b"report_time_zone";

/// The time zone days are cut in (set at start from the config).
pub fn time_zone<T: Read>(r: &T) -> Result<Option<String>> {
    Ok(r.get_raw(META, TZ_KEY)?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}

pub fn set_time_zone(w: &W, name: &str) -> Result<()> {
    w.put_raw(META, TZ_KEY, name.as_bytes())
}

fn key(day: &str, channel: &str, manager: u64) -> Vec<u8> {
    Key::new().str(day).str(channel).u64(manager).build()
}

/// Change one day × channel × manager's figures.
pub fn add(
    w: &W,
    day: &str,
    channel: &str,
    manager: u64,
    f: impl FnOnce(&mut Rollup),
) -> Result<()> {
    let k = key(day, channel, manager);
    let mut r: Rollup = w.get(ROLLUPS, &k)?.unwrap_or_default();
    f(&mut r);
    w.put(ROLLUPS, &k, &r)
}

/// One stored row: its day, channel, manager and figures.
pub struct Row {
    pub day: String,
    pub channel: String,
    pub manager: u64,
    pub figures: Rollup,
}

/// Every row of the local days `from..=to` ("YYYY-MM-DD"), in day order, passed to `each`.
pub fn rows<T: Read>(r: &T, from: &str, to: &str, mut each: impl FnMut(Row)) -> Result<()> {
    // Every key of day `from` starts with "from\0", so the bare date sorts just before them.
    let mut after = from.as_bytes().to_vec();
    loop {
        let page = r.scan(ROLLUPS, &[], Some(&after), false, PAGE)?;
        let full = page.len() == PAGE;
        for (k, v) in page {
            let mut parts = k.splitn(3, |b| *b == 0);
            let day = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            if day.as_str() > to {
                return Ok(());
            }
            let channel = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let manager = codec::read_u64(parts.next().unwrap_or_default(), 0)?;
            each(Row {
                day,
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
