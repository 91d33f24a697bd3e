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

/// A sales plan (A2): a pipeline of ordered stages. Stages have ids so a rename keeps the
/// orders in them; ids are never reused within a plan (`next_stage`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    pub stages: Vec<Stage>,
    pub created_ms: i64,
    pub next_stage: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub id: u64,
    pub name: String,
}

impl Plan {
    pub fn stage(&self, id: u64) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// A stage by name, compared without case.
    pub fn stage_named(&self, name: &str) -> Option<&Stage> {
        let name = name.trim().to_lowercase();
        self.stages.iter().find(|s| s.name.to_lowercase() == name)
    }

    /// Whether `id` is the plan's last stage (an order there is closed).
    pub fn is_last(&self, id: u64) -> bool {
        self.stages.last().is_some_and(|s| s.id == id)
    }
}

/// A plan as stored before stages had ids (stage names only).
#[derive(Deserialize)]
struct PlanV1 {
    name: String,
    stages: Vec<String>,
    created_ms: i64,
}

impl Record for SavedFilter {
    const NAME: &'static str = "saved filter";
}
impl Record for Plan {
    const VERSION: u8 = 2;
    const NAME: &'static str = "sales plan";

    fn upgrade(version: u8, bytes: &[u8]) -> Result<Plan> {
        match version {
            1 => {
                let v1: PlanV1 = postcard::from_bytes(bytes).map_err(|e| {
                    crate::error::Error::Corrupt(format!("sales plan row (format 1): {e}"))
                })?;
                let stages: Vec<Stage> = (1..)
                    .zip(v1.stages)
                    .map(|(id, name)| Stage { id, name })
                    .collect();
                Ok(Plan {
                    name: v1.name,
                    next_stage: stages.len() as u64 + 1,
                    stages,
                    created_ms: v1.created_ms,
                })
            }
            v => Err(crate::error::Error::Corrupt(format!(
                "sales plan row has unknown format version {v}"
            ))),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_stored_with_stage_names_reads_with_stage_ids() {
        #[derive(Serialize)]
        struct V1<'a> {
            name: &'a str,
            stages: Vec<&'a str>,
            created_ms: i64,
        }
        let mut bytes = vec![1u8];
        bytes.extend(
            postcard::to_allocvec(&V1 {
                name: "Retail",
                stages: vec!["Lead", "Won"],
                created_ms: 5,
            })
            .unwrap(),
        );
        let p: Plan = codec::decode(&bytes).unwrap();
        assert_eq!(
            p.stages[1],
            Stage {
                id: 2,
                name: "Won".into()
            }
        );
        assert_eq!((p.next_stage, p.created_ms), (3, 5));
        assert!(p.is_last(2) && !p.is_last(1));
        assert_eq!(p.stage_named(" lead").map(|s| s.id), Some(1));
        let again: Plan = codec::decode(&codec::encode(&p).unwrap()).unwrap();
        assert_eq!(again.stages, p.stages);
    }
}
