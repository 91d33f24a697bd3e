//! Orders (A2): a deal with a client, moving through the stages of a sales plan.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: u64,
    pub contact_id: u64,
    /// The plan's name as stored (plans are keyed by their lowercased name).
    pub plan: String,
    /// The stage's id within the plan, so renaming a stage keeps its orders.
    pub stage: u64,
    pub title: String,
    /// Hundredths of the currency unit: sums stay exact.
    pub amount_cents: i64,
    /// ISO 4217 code, upper case; empty when not given.
    pub currency: String,
    /// The responsible manager.
    pub manager: Option<u64>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// When the order reached the plan's last stage (or was closed by hand); None while open.
    pub closed_ms: Option<i64>,
    pub custom_fields: BTreeMap<String, String>,
    pub created_by: Option<u64>,
}

/// An order as screens show it: with its stage's and client's names.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderView {
    pub order: Order,
    pub stage: String,
    pub contact_name: String,
}

/// An amount given as a JSON number (100, 99.95) in hundredths; rounding to the cent.
pub fn cents(amount: f64) -> Result<i64> {
    if !amount.is_finite() || amount.abs() > 1e13 {
        return Err(Error::invalid("amount", "must be a number below 10^13"));
    }
    Ok((amount * 100.0).round() as i64)
}

/// A currency code: three ASCII letters, upper-cased; empty is allowed (no currency).
pub fn currency(raw: &str) -> Result<String> {
    let c = raw.trim().to_ascii_uppercase();
    if c.is_empty() || (c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())) {
        Ok(c)
    } else {
        Err(Error::invalid(
            "currency",
            "must be a three-letter code such as EUR",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_currencies() {
        assert_eq!(cents(100.0).unwrap(), 10_000);
        assert_eq!(cents(99.955).unwrap(), 9_996);
        assert_eq!(cents(-0.01).unwrap(), -1);
        assert!(cents(f64::NAN).is_err() && cents(1e14).is_err());
        assert_eq!(currency(" eur ").unwrap(), "EUR");
        assert_eq!(currency("").unwrap(), "");
        assert!(currency("euro").is_err() && currency("e1r").is_err());
    }
}
