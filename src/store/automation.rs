//! Funnels and their runs (B1). A waiting run has one row in `RUNS_DUE` keyed by when it is
//! due, so the scheduler reads only the next few due runs however many clients wait (a
//! million pending delays cost disk, not memory); `put_run` keeps that index, and the
//! client's and the funnel's lists, in step with the run in the same transaction.

use super::tables::*;
use super::{Key, Read, Record, W, codec};
use crate::domain::automation::{Funnel, Run, RunState};
use crate::error::Result;

impl Record for Funnel {
    const NAME: &'static str = "funnel";
}

impl Record for Run {
    const NAME: &'static str = "run";
}

fn k(id: u64) -> [u8; 8] {
    codec::u64_key(id)
}

fn pair(a: u64, b: u64) -> Vec<u8> {
    Key::new().u64(a).u64(b).build()
}

fn due_key(due_ms: i64, run: u64) -> Vec<u8> {
    Key::new().i64(due_ms).u64(run).build()
}

fn due_of(r: &Run) -> Option<i64> {
    match r.state {
        RunState::Waiting { due_ms } => Some(due_ms),
        _ => None,
    }
}

pub fn funnel<T: Read>(r: &T, id: u64) -> Result<Option<Funnel>> {
    r.get(FUNNELS, &k(id))
}

/// Every funnel, by id.
pub fn funnels<T: Read>(r: &T) -> Result<Vec<Funnel>> {
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rows = r.scan(FUNNELS, &[], after.as_deref(), false, 500)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (_, v) in rows {
            out.push(codec::decode(&v)?);
        }
    }
    Ok(out)
}

/// Store a funnel; a new one (id 0) gets the next id.
pub fn put_funnel(w: &W, f: &mut Funnel) -> Result<()> {
    if f.id == 0 {
        f.id = w.next_id("funnel")?;
    }
    w.put(FUNNELS, &k(f.id), f)
}

pub fn delete_funnel(w: &W, id: u64) -> Result<bool> {
    w.del(FUNNELS, &k(id))
}

pub fn run<T: Read>(r: &T, id: u64) -> Result<Option<Run>> {
    r.get(RUNS, &k(id))
}

/// Store a run and keep its indexes: `old` is the run as stored before (None for a new run,
/// which gets the next id).
pub fn put_run(w: &W, old: Option<&Run>, run: &mut Run) -> Result<()> {
    if run.id == 0 {
        run.id = w.next_id("run")?;
    }
    if let Some(due) = old.and_then(due_of) {
        w.del(RUNS_DUE, &due_key(due, run.id))?;
    }
    if let Some(due) = due_of(run) {
        w.put_raw(RUNS_DUE, &due_key(due, run.id), &[])?;
    }
    if old.is_none() {
        w.put_raw(CONTACT_RUNS, &pair(run.contact_id, run.id), &[])?;
        w.put_raw(FUNNEL_RUNS, &pair(run.funnel_id, run.id), &[])?;
    }
    w.put(RUNS, &k(run.id), run)
}

/// Ids listed under `prefix` in a `<a> ++ <id>` index, in id order.
fn ids_under<T: Read>(r: &T, table: Table, owner: u64) -> Result<Vec<u64>> {
    let prefix = k(owner);
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rows = r.scan(table, &prefix, after.as_deref(), false, 1000)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (key, _) in rows {
            out.push(codec::read_u64(&key, 8)?);
        }
    }
    Ok(out)
}

/// A client's runs, oldest first.
pub fn contact_runs<T: Read>(r: &T, contact_id: u64) -> Result<Vec<Run>> {
    let mut out = Vec::new();
    for id in ids_under(r, CONTACT_RUNS, contact_id)? {
        if let Some(run) = run(r, id)? {
            out.push(run);
        }
    }
    Ok(out)
}

/// The ids of a funnel's runs (finished ones included).
pub fn funnel_run_ids<T: Read>(r: &T, funnel_id: u64) -> Result<Vec<u64>> {
    ids_under(r, FUNNEL_RUNS, funnel_id)
}

/// Up to `limit` waiting runs due at or before `now`, soonest first.
pub fn due_runs<T: Read>(r: &T, now: i64, limit: usize) -> Result<Vec<u64>> {
    let rows = r.scan(RUNS_DUE, &[], None, false, limit)?;
    let mut out = Vec::new();
    for (key, _) in rows {
        if codec::read_i64(&key, 0)? > now {
            break;
        }
        out.push(codec::read_u64(&key, 8)?);
    }
    Ok(out)
}

/// When the next waiting run is due, if any.
pub fn next_due<T: Read>(r: &T) -> Result<Option<i64>> {
    match r.scan(RUNS_DUE, &[], None, false, 1)?.first() {
        Some((key, _)) => Ok(Some(codec::read_i64(key, 0)?)),
        None => Ok(None),
    }
}

/// Count one automated send to a client within the current hour; false (and nothing
/// counted) when `cap` sends were already made in it.
pub fn count_send(w: &W, funnel_id: u64, contact_id: u64, now: i64, cap: u32) -> Result<bool> {
    let key = pair(funnel_id, contact_id);
    let hour = now - now.rem_euclid(3_600_000);
    let n = match w.get_raw(FUNNEL_SENDS, &key)? {
        Some(b) if b.len() == 16 && codec::read_i64(&b, 0)? == hour => codec::read_u64(&b, 8)?,
        _ => 0,
    };
    if n >= u64::from(cap) {
        return Ok(false);
    }
    let v = Key::new().i64(hour).u64(n + 1).build();
    w.put_raw(FUNNEL_SENDS, &key, &v)?;
    Ok(true)
}
