//! Saved filters and sales plans: the use cases behind `/api/v1/filters` and
//! `/api/v1/plans`, and the filter a list request names. A filter belongs to the manager who
//! made it; a shared one may be used (and duplicated) by everyone but changed only by its
//! owner, and another manager's private filter is indistinguishable from a missing one.

use super::Inbox;
use crate::domain::filter::{Filter, FilterSpec};
use crate::domain::manager::ManagerId;
use crate::domain::normalise;
use crate::error::{Error, Result};
use crate::store::saved as db;

pub use crate::store::saved::{Plan, SavedFilter, Stage};

/// A stage as a request names it: by id to rename it, or by name alone.
#[derive(Clone, Debug)]
pub struct StageInput {
    pub id: Option<u64>,
    pub name: String,
}

/// A new filter, or what changes in one; `None` leaves a field as it is (a new filter needs
/// a name and a filter).
#[derive(Default)]
pub struct FilterInput {
    pub name: Option<String>,
    pub filter: Option<FilterSpec>,
    pub shared: Option<bool>,
}

fn clean_name(n: &str) -> Result<String> {
    let n = normalise::text(n, 100);
    if n.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    Ok(n)
}

/// The spec as stored: checked first, so a stored filter always parses back.
fn spec_text(spec: &FilterSpec) -> Result<String> {
    spec.validate()?;
    serde_json::to_string(spec).map_err(|e| Error::Internal(e.to_string()))
}

fn usable_spec(f: &SavedFilter) -> Result<Filter> {
    let spec: FilterSpec = serde_json::from_str(&f.spec)
        .map_err(|e| Error::Corrupt(format!("saved filter {}: {e}", f.id)))?;
    spec.validate()
}

impl Inbox {
    /// The filter of a list request: `filter` (JSON) when given, else the saved filter
    /// `saved_id` if `manager` may use it, else none.
    pub async fn request_filter(
        &self,
        manager: ManagerId,
        filter: Option<&str>,
        saved_id: Option<u64>,
    ) -> Result<Option<Filter>> {
        let manager = manager.0;
        if let Some(f) = filter.filter(|f| !f.trim().is_empty()) {
            return crate::domain::filter::parse(f).map(Some);
        }
        let Some(id) = saved_id else {
            return Ok(None);
        };
        let sf = self
            .store
            .query(move |r| db::usable(r, id, manager))
            .await?;
        usable_spec(&sf).map(Some)
    }

    /// `request_filter` for list handlers that still run on the async worker; it reads
    /// one row.
    pub fn request_filter_now(
        &self,
        manager: ManagerId,
        filter: Option<&str>,
        saved_id: Option<u64>,
    ) -> Result<Option<Filter>> {
        let manager = manager.0;
        if let Some(f) = filter.filter(|f| !f.trim().is_empty()) {
            return crate::domain::filter::parse(f).map(Some);
        }
        let Some(id) = saved_id else {
            return Ok(None);
        };
        let sf = self.store.read(|r| db::usable(r, id, manager))?;
        usable_spec(&sf).map(Some)
    }

    /// The filters `manager` may use: their own and the shared ones.
    pub async fn filters_for(&self, manager: ManagerId) -> Result<Vec<SavedFilter>> {
        let manager = manager.0;
        self.store.query(move |r| db::filters_for(r, manager)).await
    }

    pub async fn create_filter(&self, owner: ManagerId, input: FilterInput) -> Result<SavedFilter> {
        let owner = owner.0;
        let name = clean_name(input.name.as_deref().unwrap_or(""))?;
        let spec = input
            .filter
            .ok_or_else(|| Error::invalid("filter", "is required"))?;
        let spec = spec_text(&spec)?;
        let shared = input.shared.unwrap_or(false);
        self.store
            .write(move |w| db::create_filter(w, owner, &name, shared, &spec))
            .await
    }

    /// Change (rename, new conditions, share) a filter; only its owner may.
    pub async fn update_filter(
        &self,
        manager: ManagerId,
        id: u64,
        input: FilterInput,
    ) -> Result<SavedFilter> {
        let manager = manager.0;
        let name = input.name.as_deref().map(clean_name).transpose()?;
        let spec = input.filter.as_ref().map(spec_text).transpose()?;
        let shared = input.shared;
        self.store
            .write(move |w| {
                let mut f = db::usable(w, id, manager)?;
                if f.owner != manager {
                    return Err(Error::Forbidden(
                        "only the owner changes a shared filter; duplicate it instead".into(),
                    ));
                }
                if let Some(n) = &name {
                    f.name.clone_from(n);
                }
                if let Some(s) = &spec {
                    f.spec.clone_from(s);
                }
                if let Some(sh) = shared {
                    f.shared = sh;
                }
                db::put_filter(w, &f)?;
                Ok(f)
            })
            .await
    }

    /// A private copy, owned by `manager`, of a filter they may use.
    pub async fn duplicate_filter(&self, manager: ManagerId, id: u64) -> Result<SavedFilter> {
        let manager = manager.0;
        self.store
            .write(move |w| {
                let src = db::usable(w, id, manager)?;
                db::create_filter(
                    w,
                    manager,
                    &format!("{} (copy)", src.name),
                    false,
                    &src.spec,
                )
            })
            .await
    }

    /// Delete a filter; only its owner may.
    pub async fn delete_filter(&self, manager: ManagerId, id: u64) -> Result<()> {
        let manager = manager.0;
        self.store
            .write(move |w| {
                let f = db::usable(w, id, manager)?;
                if f.owner != manager {
                    return Err(Error::Forbidden(
                        "only the owner deletes a shared filter".into(),
                    ));
                }
                db::delete_filter(w, id).map(|_| ())
            })
            .await
    }

    pub async fn plans(&self) -> Result<Vec<Plan>> {
        self.store.query(db::plans).await
    }

    /// Create or replace the sales plan `name` (names compare without case); true when it
    /// is new. Stages keep their ids: one given with its id is renamed, one given by a name
    /// the plan already has is kept, others are new. Empty names are dropped; a stage left
    /// out that still holds orders is a 409 (move them first).
    pub async fn put_plan(&self, name: &str, stages: &[StageInput]) -> Result<(Plan, bool)> {
        let name = clean_name(name)?;
        if stages.len() > 50 {
            return Err(Error::invalid("stages", "at most 50"));
        }
        let stages: Vec<StageInput> = stages
            .iter()
            .map(|s| StageInput {
                id: s.id,
                name: normalise::text(&s.name, 100),
            })
            .filter(|s| !s.name.is_empty())
            .collect();
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = stages.iter().find(|s| !seen.insert(s.name.to_lowercase())) {
            return Err(Error::invalid(
                "stages",
                format!("{:?} is there twice", dup.name),
            ));
        }
        self.store
            .write(move |w| {
                let old = db::plan(w, &name)?;
                let mut next = old.as_ref().map_or(1, |o| o.next_stage);
                let mut out = Vec::with_capacity(stages.len());
                for s in &stages {
                    let id = match (s.id, &old) {
                        (Some(id), Some(o)) if o.stage(id).is_some() => id,
                        (Some(id), _) => {
                            return Err(Error::invalid("stages", format!("no stage {id}")));
                        }
                        (None, Some(o)) if o.stage_named(&s.name).is_some() => {
                            o.stage_named(&s.name).map_or(0, |st| st.id)
                        }
                        (None, _) => {
                            next += 1;
                            next - 1
                        }
                    };
                    out.push(Stage {
                        id,
                        name: s.name.clone(),
                    });
                }
                if let Some(o) = &old {
                    for gone in o
                        .stages
                        .iter()
                        .filter(|s| !out.iter().any(|n| n.id == s.id))
                    {
                        let n = crate::store::inbox::stage_in_use(w, &o.name, gone.id)?;
                        if n > 0 {
                            return Err(Error::Conflict(format!(
                                "stage {:?} still has {n} orders; move them to another stage first",
                                gone.name
                            )));
                        }
                    }
                }
                let p = Plan {
                    // The stored spelling stays: orders name the plan by it.
                    name: old
                        .as_ref()
                        .map_or_else(|| name.clone(), |o| o.name.clone()),
                    stages: out,
                    created_ms: old
                        .as_ref()
                        .map_or_else(crate::domain::now_ms, |o| o.created_ms),
                    next_stage: next,
                };
                db::put_plan(w, &p)?;
                Ok((p, old.is_none()))
            })
            .await
    }

    /// Delete the sales plan `name`; NotFound when there is none.
    pub async fn delete_plan(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        let gone = self
            .store
            .write(move |w| {
                if !crate::store::inbox::plan_order_ids(w, &name, 1)?.is_empty() {
                    return Err(Error::Conflict(
                        "the plan still has orders; delete or move them first".into(),
                    ));
                }
                db::delete_plan(w, &name)
            })
            .await?;
        if !gone {
            return Err(Error::NotFound("sales plan".into()));
        }
        Ok(())
    }
}
