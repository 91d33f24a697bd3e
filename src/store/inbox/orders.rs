//! Orders and the two indexes kept with them: by client (the card) and by plan (the board).

use super::*;
use crate::domain::order::Order;
use crate::store::{Key, W};

impl Record for Order {
    const NAME: &'static str = "order";
}

fn plan_key(plan: &str, order: u64) -> Vec<u8> {
    Key::new().str(&plan.to_lowercase()).u64(order).build()
}

/// Store an order and keep its indexes: `old` is the order as stored before (None for a new
/// one, which gets the next id).
pub fn put_order(w: &W, old: Option<&Order>, o: &mut Order) -> Result<()> {
    if o.id == 0 {
        o.id = w.next_id("order")?;
    }
    if let Some(old) = old {
        if old.contact_id != o.contact_id {
            w.del(CONTACT_ORDERS, &pair(old.contact_id, old.id))?;
        }
        if old.plan.to_lowercase() != o.plan.to_lowercase() {
            w.del(PLAN_ORDERS, &plan_key(&old.plan, old.id))?;
        }
    }
    w.put_raw(CONTACT_ORDERS, &pair(o.contact_id, o.id), &[])?;
    w.put_raw(PLAN_ORDERS, &plan_key(&o.plan, o.id), &[])?;
    w.put(ORDERS, &k(o.id), o)
}

pub fn delete_order(w: &W, o: &Order) -> Result<()> {
    w.del(CONTACT_ORDERS, &pair(o.contact_id, o.id))?;
    w.del(PLAN_ORDERS, &plan_key(&o.plan, o.id))?;
    w.del(ORDERS, &k(o.id)).map(|_| ())
}

pub fn order<T: Read>(r: &T, id: u64) -> Result<Option<Order>> {
    r.get(ORDERS, &k(id))
}

/// A client's orders, oldest first.
pub fn contact_orders<T: Read>(r: &T, contact_id: u64) -> Result<Vec<Order>> {
    let mut out = Vec::new();
    for (key, _) in r.scan(CONTACT_ORDERS, &k(contact_id), None, false, 10_000)? {
        if let Some(o) = order(r, codec::read_u64(&key, 8)?)? {
            out.push(o);
        }
    }
    Ok(out)
}

/// The client's newest order (for the Audience stage column), if any.
pub fn latest_order<T: Read>(r: &T, contact_id: u64) -> Result<Option<Order>> {
    match r
        .scan(CONTACT_ORDERS, &k(contact_id), None, true, 1)?
        .first()
    {
        Some((key, _)) => order(r, codec::read_u64(key, 8)?),
        None => Ok(None),
    }
}

/// The newest `limit` orders of all plans.
pub fn newest_orders<T: Read>(r: &T, limit: usize) -> Result<Vec<Order>> {
    r.values(ORDERS, &[], true, limit)
}

/// Ids of a plan's orders, up to `limit`, in id order.
pub fn plan_order_ids<T: Read>(r: &T, plan: &str, limit: usize) -> Result<Vec<u64>> {
    let prefix = Key::new().str(&plan.to_lowercase()).build();
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    while out.len() < limit {
        let rows = r.scan(PLAN_ORDERS, &prefix, after.as_deref(), false, 2000)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (key, _) in rows {
            out.push(codec::read_u64(&key, prefix.len())?);
        }
    }
    out.truncate(limit);
    Ok(out)
}

/// Whether any order of `plan` sits in stage `stage` (a stage with orders is not removed).
pub fn stage_in_use<T: Read>(r: &T, plan: &str, stage: u64) -> Result<usize> {
    let mut n = 0;
    for id in plan_order_ids(r, plan, usize::MAX)? {
        if order(r, id)?.is_some_and(|o| o.stage == stage) {
            n += 1;
        }
    }
    Ok(n)
}
