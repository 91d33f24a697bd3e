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

pub use crate::store::saved::{Plan, SavedFilter};

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
    /// is new. Empty stages are dropped.
    pub async fn put_plan(&self, name: &str, stages: &[String]) -> Result<(Plan, bool)> {
        let name = clean_name(name)?;
        if stages.len() > 50 {
            return Err(Error::invalid("stages", "at most 50"));
        }
        let stages: Vec<String> = stages
            .iter()
            .map(|s| normalise::text(s, 100))
            .filter(|s| !s.is_empty())
            .collect();
        self.store
            .write(move |w| {
                let old = db::plan(w, &name)?;
                let p = Plan {
                    name: name.clone(),
                    stages: stages.clone(),
                    created_ms: old
                        .as_ref()
                        .map_or_else(crate::domain::now_ms, |o| o.created_ms),
                };
                db::put_plan(w, &p)?;
                Ok((p, old.is_none()))
            })
            .await
    }

    /// Delete the sales plan `name`; NotFound when there is none.
    pub async fn delete_plan(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        let gone = self.store.write(move |w| db::delete_plan(w, &name)).await?;
        if !gone {
            return Err(Error::NotFound("sales plan".into()));
        }
        Ok(())
    }
}
