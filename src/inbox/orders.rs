//! Orders and sales (A2): orders on a client, moved through the stages of a sales plan. Each
//! change is one transaction that also leaves a client-log entry and a system message, and
//! keeps the client's `sales_plan` on the plan of their latest order (what the Chats
//! sales-plan filter, L3, searches).

use std::collections::BTreeMap;

use super::clients::record_event;
use super::{Inbox, emit_row};
use crate::domain::event::Event;
use crate::domain::inbox::Contact;
use crate::domain::manager::ManagerId;
use crate::domain::normalise;
use crate::domain::order::{self, Order};
use crate::error::{Error, Result};
use crate::store::inbox::{self as db, InboxReads};
use crate::store::prelude::*;
use crate::store::saved::{self, Plan};
use crate::store::{self, W};

/// A stage as a request names it.
#[derive(Clone, Debug)]
pub enum StageRef {
    Id(u64),
    Name(String),
}

/// A new order, or what changes in one; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct OrderInput {
    pub contact_id: Option<u64>,
    pub plan: Option<String>,
    pub stage: Option<StageRef>,
    pub title: Option<String>,
    pub amount: Option<f64>,
    pub currency: Option<String>,
    pub manager: Option<Option<u64>>,
    pub custom_fields: Option<BTreeMap<String, String>>,
}

pub use crate::domain::order::OrderView;

/// A plan's board: its stages with the orders in each, and per-stage totals.
pub struct Board {
    pub plan: Plan,
    pub orders: Vec<OrderView>,
    /// The board held more orders than it shows.
    pub truncated: bool,
}

/// Which orders a board or list shows.
#[derive(Clone, Debug, Default)]
pub struct OrderQuery {
    pub plan: Option<String>,
    pub contact_id: Option<u64>,
    pub manager: Option<u64>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: usize,
}

fn plan_or_422<T: Read>(r: &T, name: &str) -> Result<Plan> {
    saved::plan(r, name)?.ok_or_else(|| Error::invalid("plan", format!("no sales plan {name:?}")))
}

fn resolve_stage(plan: &Plan, s: &StageRef) -> Result<u64> {
    let found = match s {
        StageRef::Id(id) => plan.stage(*id),
        StageRef::Name(n) => plan.stage_named(n),
    };
    found.map(|s| s.id).ok_or_else(|| {
        Error::invalid(
            "stage",
            format!("the plan {:?} has no such stage", plan.name),
        )
    })
}

fn view<T: Read>(r: &T, o: Order) -> Result<OrderView> {
    view_cached(r, o, &mut Default::default())
}

/// `view`, reading each plan once for a whole board.
fn view_cached<T: Read>(
    r: &T,
    o: Order,
    plans: &mut std::collections::HashMap<String, Option<Plan>>,
) -> Result<OrderView> {
    let key = o.plan.to_lowercase();
    if !plans.contains_key(&key) {
        plans.insert(key.clone(), saved::plan(r, &o.plan)?);
    }
    let stage = plans
        .get(&key)
        .and_then(|p| p.as_ref())
        .and_then(|p| p.stage(o.stage).map(|s| s.name.clone()))
        .unwrap_or_default();
    let contact_name = r.contact(o.contact_id)?.map(|c| c.name).unwrap_or_default();
    Ok(OrderView {
        order: o,
        stage,
        contact_name,
    })
}

fn amount_text(o: &Order) -> String {
    let a = o.amount_cents as f64 / 100.0;
    if o.currency.is_empty() {
        format!("{a:.2}")
    } else {
        format!("{a:.2} {}", o.currency)
    }
}

fn who<T: Read>(r: &T, manager: u64) -> Result<String> {
    Ok(r.manager(manager)?
        .map(|m| m.name)
        .unwrap_or_else(|| format!("manager {manager}")))
}

fn check_manager<T: Read>(r: &T, m: Option<u64>) -> Result<()> {
    if let Some(id) = m
        && r.manager(id)?.is_none()
    {
        return Err(Error::invalid("manager_id", format!("no manager {id}")));
    }
    Ok(())
}

/// Store the client with its plan following the order, and the live events.
fn touch_contact(w: &W, old: &Contact, mut c: Contact, plan: &str, inbox: &Inbox) -> Result<()> {
    if !plan.is_empty() {
        c.sales_plan = Some(plan.to_string());
    }
    db::put_contact(w, Some(old), &c)?;
    w.emit(None, Event::ContactUpdated(c.clone()))?;
    emit_row(w, &c, &inbox.channels)
}

/// The order as screens show it, announced to every board and card that shows it.
pub(super) fn emit_order(w: &W, o: Order) -> Result<OrderView> {
    let v = view(w, o)?;
    w.emit(None, Event::OrderUpdated(v.clone()))?;
    Ok(v)
}

impl Inbox {
    pub async fn create_order(&self, manager: ManagerId, input: OrderInput) -> Result<OrderView> {
        let manager = manager.0;
        let title = normalise::text(input.title.as_deref().unwrap_or(""), 200);
        if title.is_empty() {
            return Err(Error::invalid("title", "must not be empty"));
        }
        let contact_id = input
            .contact_id
            .ok_or_else(|| Error::invalid("contact_id", "is required"))?;
        let plan_name = input
            .plan
            .clone()
            .ok_or_else(|| Error::invalid("plan", "is required"))?;
        let amount = order::cents(input.amount.unwrap_or(0.0))?;
        let currency = order::currency(input.currency.as_deref().unwrap_or(""))?;
        let fields = check_fields(input.custom_fields.clone().unwrap_or_default())?;
        let me = self.clone();
        self.store
            .write(move |w| {
                let plan = plan_or_422(w, &plan_name)?;
                let stage = match &input.stage {
                    Some(s) => resolve_stage(&plan, s)?,
                    None => plan
                        .stages
                        .first()
                        .map(|s| s.id)
                        .ok_or_else(|| Error::invalid("stage", "the plan has no stages yet"))?,
                };
                let old = w.contact(contact_id)?.ok_or_else(|| {
                    Error::invalid("contact_id", format!("no client {contact_id}"))
                })?;
                let responsible = input.manager.unwrap_or(Some(manager));
                check_manager(w, responsible)?;
                let now = store::now_ms();
                let mut o = Order {
                    id: 0,
                    contact_id,
                    plan: plan.name.clone(),
                    stage,
                    title: title.clone(),
                    amount_cents: amount,
                    currency: currency.clone(),
                    manager: responsible,
                    created_ms: now,
                    updated_ms: now,
                    closed_ms: plan.is_last(stage).then_some(now),
                    custom_fields: fields.clone(),
                    created_by: Some(manager),
                };
                db::put_order(w, None, &mut o)?;
                let mut c = old.clone();
                let stage_name = plan.stage(stage).map_or("", |s| s.name.as_str());
                let text = format!(
                    "{} added the order “{}” ({}) in {}: {}",
                    who(w, manager)?,
                    o.title,
                    amount_text(&o),
                    plan.name,
                    stage_name
                );
                record_event(w, &mut c, "order_created", &text, Some(manager))?;
                touch_contact(w, &old, c, &plan.name, &me)?;
                emit_order(w, o)
            })
            .await
    }

    /// Change an order; a stage move (or a move to another plan) is logged on the client and
    /// shown as a system message in their latest chat.
    pub async fn update_order(
        &self,
        manager: ManagerId,
        id: u64,
        input: OrderInput,
    ) -> Result<OrderView> {
        let manager = manager.0;
        let title = match &input.title {
            Some(t) => {
                let t = normalise::text(t, 200);
                if t.is_empty() {
                    return Err(Error::invalid("title", "must not be empty"));
                }
                Some(t)
            }
            None => None,
        };
        let amount = input.amount.map(order::cents).transpose()?;
        let currency = input.currency.as_deref().map(order::currency).transpose()?;
        let fields = input.custom_fields.clone().map(check_fields).transpose()?;
        if input.contact_id.is_some() {
            return Err(Error::invalid(
                "contact_id",
                "an order stays with its client (merge clients to move orders)",
            ));
        }
        let me = self.clone();
        self.store
            .write(move |w| {
                let before =
                    db::order(w, id)?.ok_or_else(|| Error::NotFound(format!("order {id}")))?;
                let mut o = before.clone();
                let old_plan = saved::plan(w, &o.plan)?;
                let plan = match &input.plan {
                    Some(p) => plan_or_422(w, p)?,
                    None => old_plan.clone().ok_or_else(|| {
                        Error::Conflict(format!("the order's plan {:?} is gone", o.plan))
                    })?,
                };
                let moved_plan = plan.name.to_lowercase() != o.plan.to_lowercase();
                o.stage = match (&input.stage, moved_plan) {
                    (Some(s), _) => resolve_stage(&plan, s)?,
                    (None, true) => plan
                        .stages
                        .first()
                        .map(|s| s.id)
                        .ok_or_else(|| Error::invalid("stage", "the plan has no stages yet"))?,
                    (None, false) => o.stage,
                };
                o.plan = plan.name.clone();
                if let Some(t) = &title {
                    o.title.clone_from(t);
                }
                if let Some(a) = amount {
                    o.amount_cents = a;
                }
                if let Some(c) = &currency {
                    o.currency.clone_from(c);
                }
                if let Some(m) = input.manager {
                    check_manager(w, m)?;
                    o.manager = m;
                }
                if let Some(f) = &fields {
                    o.custom_fields.clone_from(f);
                }
                let now = store::now_ms();
                o.closed_ms = if plan.is_last(o.stage) {
                    before
                        .closed_ms
                        .filter(|_| !moved_plan && before.stage == o.stage)
                        .or(Some(now))
                } else {
                    None
                };
                if o == before {
                    return view(w, o);
                }
                o.updated_ms = now;
                db::put_order(w, Some(&before), &mut o)?;
                let old = w.contact_or_404(o.contact_id)?;
                let mut c = old.clone();
                if moved_plan || o.stage != before.stage {
                    let from = old_plan
                        .as_ref()
                        .and_then(|p| p.stage(before.stage))
                        .map_or("", |s| s.name.as_str());
                    let to = plan.stage(o.stage).map_or("", |s| s.name.as_str());
                    let text = if moved_plan {
                        format!(
                            "{} moved the order “{}” from {} ({}) to {}: {}",
                            who(w, manager)?,
                            o.title,
                            before.plan,
                            from,
                            plan.name,
                            to
                        )
                    } else {
                        format!(
                            "{} moved the order “{}” from {from} to {to} ({})",
                            who(w, manager)?,
                            o.title,
                            plan.name
                        )
                    };
                    record_event(w, &mut c, "order_stage", &text, Some(manager))?;
                }
                touch_contact(w, &old, c, &plan.name, &me)?;
                emit_order(w, o)
            })
            .await
    }

    pub async fn delete_order(&self, manager: ManagerId, id: u64) -> Result<()> {
        let manager = manager.0;
        let me = self.clone();
        self.store
            .write(move |w| {
                let o = db::order(w, id)?.ok_or_else(|| Error::NotFound(format!("order {id}")))?;
                db::delete_order(w, &o)?;
                let old = w.contact_or_404(o.contact_id)?;
                let mut c = old.clone();
                let text = format!("{} deleted the order “{}”", who(w, manager)?, o.title);
                record_event(w, &mut c, "order_deleted", &text, Some(manager))?;
                w.emit(
                    None,
                    Event::OrderDeleted {
                        id: o.id,
                        contact_id: o.contact_id,
                        plan: o.plan.clone(),
                    },
                )?;
                touch_contact(w, &old, c, "", &me)
            })
            .await
    }

    pub async fn order(&self, id: u64) -> Result<OrderView> {
        self.store
            .query(move |r| {
                let o = db::order(r, id)?.ok_or_else(|| Error::NotFound(format!("order {id}")))?;
                view(r, o)
            })
            .await
    }

    /// A client's orders, oldest first (404 for a client that does not exist).
    pub async fn contact_orders(&self, contact_id: u64) -> Result<Vec<OrderView>> {
        self.store
            .query(move |r| {
                r.contact_or_404(contact_id)?;
                db::contact_orders(r, contact_id)?
                    .into_iter()
                    .map(|o| view(r, o))
                    .collect()
            })
            .await
    }

    /// Orders by plan (the board), by client, or the newest of all; narrowed by manager and
    /// creation date.
    pub async fn orders(&self, q: OrderQuery) -> Result<Board> {
        self.store
            .query(move |r| {
                let keep = |o: &Order| {
                    q.manager.is_none_or(|m| o.manager == Some(m))
                        && q.from_ms.is_none_or(|f| o.created_ms >= f)
                        && q.to_ms.is_none_or(|t| o.created_ms < t)
                };
                let (plan, all) = match (&q.plan, q.contact_id) {
                    (Some(p), _) => {
                        let plan = saved::plan(r, p)?
                            .ok_or_else(|| Error::NotFound(format!("sales plan {p:?}")))?;
                        let mut all = Vec::new();
                        for id in db::plan_order_ids(r, &plan.name, usize::MAX)? {
                            if let Some(o) = db::order(r, id)?
                                && q.contact_id.is_none_or(|c| o.contact_id == c)
                            {
                                all.push(o);
                            }
                        }
                        (plan, all)
                    }
                    (None, Some(c)) => (empty_plan(), db::contact_orders(r, c)?),
                    (None, None) => (
                        empty_plan(),
                        db::newest_orders(r, q.limit.saturating_mul(4))?,
                    ),
                };
                let mut orders = Vec::new();
                let mut truncated = false;
                let mut plans = std::collections::HashMap::new();
                for o in all.into_iter().filter(keep) {
                    if orders.len() >= q.limit {
                        truncated = true;
                        break;
                    }
                    orders.push(view_cached(r, o, &mut plans)?);
                }
                Ok(Board {
                    plan,
                    orders,
                    truncated,
                })
            })
            .await
    }
}

fn empty_plan() -> Plan {
    Plan {
        name: String::new(),
        stages: Vec::new(),
        created_ms: 0,
        next_stage: 1,
    }
}

fn check_fields(f: BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    if f.len() > 50
        || f.iter()
            .any(|(k, v)| k.trim().is_empty() || k.len() > 64 || v.len() > 4096)
    {
        return Err(Error::invalid(
            "custom_fields",
            "at most 50 fields, keys 1–64 bytes, values ≤ 4 KiB",
        ));
    }
    Ok(f)
}
