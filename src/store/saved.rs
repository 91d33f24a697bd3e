//! Saved filters (per manager, optionally shared) and sales plans.

use serde::{Deserialize, Serialize};

use super::tables::{PLANS, SAVED_FILTERS};
use super::{Key, Read, Record, W, codec};
use crate::error::Result;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedFilter {
    pub id: u64,
    pub owner: u64,
    pub name: String,
    pub shared: bool,
    /// The FilterSpec as JSON (validated before it is stored).
    pub spec: String,
    pub created_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    pub stages: Vec<String>,
    pub created_ms: i64,
}

impl Record for SavedFilter {
    const NAME: &'static str = "saved filter";
}
impl Record for Plan {
    const NAME: &'static str = "sales plan";
}

/// Store a new filter with the next id.
pub fn create_filter(
    w: &W,
    owner: u64,
    name: &str,
    shared: bool,
    spec: &str,
) -> Result<SavedFilter> {
    let f = SavedFilter {
        id: w.next_id("saved_filter")?,
        owner,
        name: name.to_string(),
        shared,
        spec: spec.to_string(),
        created_ms: super::now_ms(),
    };
    put_filter(w, &f)?;
    Ok(f)
}

pub fn put_filter(w: &W, f: &SavedFilter) -> Result<()> {
    w.put(SAVED_FILTERS, &codec::u64_key(f.id), f)
}

pub fn delete_filter(w: &W, id: u64) -> Result<bool> {
    w.del(SAVED_FILTERS, &codec::u64_key(id))
}

pub fn filter<T: Read>(r: &T, id: u64) -> Result<Option<SavedFilter>> {
    r.get(SAVED_FILTERS, &codec::u64_key(id))
}

/// A filter `manager` may use (their own or a shared one); NotFound otherwise, so other
/// managers' private filters are indistinguishable from missing ones.
pub fn usable<T: Read>(r: &T, id: u64, manager: u64) -> Result<SavedFilter> {
    filter(r, id)?
        .filter(|f| f.owner == manager || f.shared)
        .ok_or_else(|| crate::error::Error::NotFound(format!("saved filter {id}")))
}

/// Filters `manager` may use: their own and the shared ones.
pub fn filters_for<T: Read>(r: &T, manager: u64) -> Result<Vec<SavedFilter>> {
    Ok(r.values::<SavedFilter>(SAVED_FILTERS, &[], false, 10_000)?
        .into_iter()
        .filter(|f| f.owner == manager || f.shared)
        .collect())
}

fn plan_key(name: &str) -> Vec<u8> {
    Key::new().str(&name.to_lowercase()).build()
}

pub fn put_plan(w: &W, p: &Plan) -> Result<()> {
    w.put(PLANS, &plan_key(&p.name), p)
}

pub fn delete_plan(w: &W, name: &str) -> Result<bool> {
    w.del(PLANS, &plan_key(name))
}

pub fn plan<T: Read>(r: &T, name: &str) -> Result<Option<Plan>> {
    r.get(PLANS, &plan_key(name))
}

pub fn plans<T: Read>(r: &T) -> Result<Vec<Plan>> {
    r.values(PLANS, &[], false, 10_000)
}
