//! Client filters (L5) as data: parsed from JSON, validated against a fixed list of fields and
//! operators, never turned into code or a query string. The search module translates a
//! validated `Filter` into index queries.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// What the UI sends: the basic filters plus segmentation conditions.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FilterSpec {
    /// "all" (every condition must hold, the default) or "any".
    #[serde(rename = "match")]
    pub match_mode: Option<String>,
    /// Channel kinds: telegram, whatsapp, viber, widget, api.
    pub messengers: Vec<String>,
    pub has_phone: Option<bool>,
    pub has_email: Option<bool>,
    pub sales_plan: Option<String>,
    pub conditions: Vec<ConditionSpec>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    pub field: String,
    pub op: String,
    #[serde(default)]
    pub value: Value,
    /// The custom field's name, for `custom_field` conditions.
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TextOp {
    Equals(String),
    Contains(String),
    Empty,
    NotEmpty,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Tag { value: String, negate: bool },
    Channel { id: String, negate: bool },
    Messenger { kind: String, negate: bool },
    SalesPlan(TextOp),
    Custom { key: String, op: TextOp },
    Created { from: Option<i64>, to: Option<i64> },
    LastActivity { from: Option<i64>, to: Option<i64> },
    Flag { flag: &'static str, value: bool },
    Assigned(u64),
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Filter {
    pub match_all: bool,
    pub messengers: Vec<String>,
    pub has_phone: Option<bool>,
    pub has_email: Option<bool>,
    pub sales_plan: Option<String>,
    pub conditions: Vec<Cond>,
}

pub const KINDS: &[&str] = &["telegram", "whatsapp", "viber", "widget", "api"];
pub const FIELDS: &[&str] = &[
    "tag",
    "channel",
    "messenger",
    "sales_plan",
    "custom_field",
    "created",
    "last_activity",
    "archived",
    "blacklisted",
    "open_task",
    "unread",
    "has_phone",
    "has_email",
    "assigned_manager",
];
const MAX_CONDITIONS: usize = 30;

/// Lowercased, trimmed, bounded: the form filter values are indexed in.
pub fn fold_value(s: &str) -> String {
    s.trim().to_lowercase().chars().take(200).collect()
}

fn text_value(v: &Value, at: &str) -> Result<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(fold_value(s)),
        _ => Err(Error::invalid(
            format!("{at}.value"),
            "must be a non-empty string",
        )),
    }
}

fn bool_value(v: &Value, at: &str) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| Error::invalid(format!("{at}.value"), "must be true or false"))
}

fn range(v: &Value, op: &str, at: &str) -> Result<(Option<i64>, Option<i64>)> {
    let ms = |x: &Value, name: &str| -> Result<Option<i64>> {
        match x {
            Value::Null => Ok(None),
            Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| {
                Error::invalid(
                    format!("{at}.value.{name}"),
                    "must be milliseconds since 1970",
                )
            }),
            _ => Err(Error::invalid(
                format!("{at}.value.{name}"),
                "must be a number",
            )),
        }
    };
    match op {
        "between" => {
            let (from, to) = (ms(&v["from"], "from")?, ms(&v["to"], "to")?);
            if from.is_none() && to.is_none() {
                return Err(Error::invalid(format!("{at}.value"), "give from and/or to"));
            }
            Ok((from, to))
        }
        "after" => Ok((ms(v, "value")?, None)),
        "before" => Ok((None, ms(v, "value")?)),
        _ => Err(Error::invalid(
            format!("{at}.op"),
            format!("unknown operator {op:?} (between, after, before)"),
        )),
    }
}

fn negation(op: &str, at: &str) -> Result<bool> {
    match op {
        "is" => Ok(false),
        "is_not" => Ok(true),
        _ => Err(Error::invalid(
            format!("{at}.op"),
            format!("unknown operator {op:?} (is, is_not)"),
        )),
    }
}

fn text_op(op: &str, v: &Value, at: &str) -> Result<TextOp> {
    Ok(match op {
        "equals" | "is" => TextOp::Equals(text_value(v, at)?),
        "contains" => TextOp::Contains(text_value(v, at)?),
        "empty" => TextOp::Empty,
        "not_empty" => TextOp::NotEmpty,
        _ => {
            return Err(Error::invalid(
                format!("{at}.op"),
                format!("unknown operator {op:?} (equals, contains, empty, not_empty)"),
            ));
        }
    })
}

impl FilterSpec {
    pub fn is_empty(&self) -> bool {
        *self == FilterSpec::default()
    }

    pub fn validate(&self) -> Result<Filter> {
        let match_all = match self.match_mode.as_deref() {
            None | Some("all") => true,
            Some("any") => false,
            Some(other) => {
                return Err(Error::invalid(
                    "filter.match",
                    format!("{other:?} is not all or any"),
                ));
            }
        };
        for m in &self.messengers {
            if !KINDS.contains(&m.as_str()) {
                return Err(Error::invalid(
                    "filter.messengers",
                    format!("unknown messenger {m:?}"),
                ));
            }
        }
        if self.conditions.len() > MAX_CONDITIONS {
            return Err(Error::invalid(
                "filter.conditions",
                format!("at most {MAX_CONDITIONS}"),
            ));
        }
        let mut conditions = Vec::new();
        for (i, c) in self.conditions.iter().enumerate() {
            let at = format!("filter.conditions[{i}]");
            let op = c.op.as_str();
            let cond = match c.field.as_str() {
                "tag" => Cond::Tag {
                    value: text_value(&c.value, &at)?,
                    negate: negation(op, &at)?,
                },
                "channel" => Cond::Channel {
                    id: text_value(&c.value, &at)?,
                    negate: negation(op, &at)?,
                },
                "messenger" => {
                    let kind = text_value(&c.value, &at)?;
                    if !KINDS.contains(&kind.as_str()) {
                        return Err(Error::invalid(
                            format!("{at}.value"),
                            format!("unknown messenger {kind:?}"),
                        ));
                    }
                    Cond::Messenger {
                        kind,
                        negate: negation(op, &at)?,
                    }
                }
                "sales_plan" => Cond::SalesPlan(match op {
                    "is_not" => {
                        return Err(Error::invalid(
                            format!("{at}.op"),
                            "use equals, empty or not_empty",
                        ));
                    }
                    _ => text_op(op, &c.value, &at)?,
                }),
                "custom_field" => {
                    let key = c
                        .key
                        .as_deref()
                        .map(fold_value)
                        .filter(|k| !k.is_empty() && !k.contains('\u{1f}'))
                        .ok_or_else(|| {
                            Error::invalid(format!("{at}.key"), "name the custom field")
                        })?;
                    Cond::Custom {
                        key,
                        op: text_op(op, &c.value, &at)?,
                    }
                }
                "created" => {
                    let (from, to) = range(&c.value, op, &at)?;
                    Cond::Created { from, to }
                }
                "last_activity" => {
                    let (from, to) = range(&c.value, op, &at)?;
                    Cond::LastActivity { from, to }
                }
                f @ ("archived" | "blacklisted" | "open_task" | "unread" | "has_phone"
                | "has_email") => {
                    if op != "is" {
                        return Err(Error::invalid(
                            format!("{at}.op"),
                            format!("unknown operator {op:?} (is)"),
                        ));
                    }
                    let flag = FIELDS
                        .iter()
                        .find(|x| **x == f)
                        .copied()
                        .unwrap_or("archived");
                    Cond::Flag {
                        flag,
                        value: bool_value(&c.value, &at)?,
                    }
                }
                "assigned_manager" => {
                    if op != "is" {
                        return Err(Error::invalid(
                            format!("{at}.op"),
                            format!("unknown operator {op:?} (is)"),
                        ));
                    }
                    Cond::Assigned(c.value.as_u64().ok_or_else(|| {
                        Error::invalid(format!("{at}.value"), "must be a manager id")
                    })?)
                }
                other => {
                    return Err(Error::invalid(
                        format!("{at}.field"),
                        format!("unknown field {other:?} (one of {})", FIELDS.join(", ")),
                    ));
                }
            };
            conditions.push(cond);
        }
        Ok(Filter {
            match_all,
            messengers: self.messengers.clone(),
            has_phone: self.has_phone,
            has_email: self.has_email,
            sales_plan: self
                .sales_plan
                .as_deref()
                .map(fold_value)
                .filter(|s| !s.is_empty()),
            conditions,
        })
    }
}

/// Parse the `filter` query parameter (JSON).
pub fn parse(json: &str) -> Result<Filter> {
    if json.len() > 16 * 1024 {
        return Err(Error::invalid("filter", "at most 16 KiB"));
    }
    let spec: FilterSpec = serde_json::from_str(json)
        .map_err(|e| Error::invalid("filter", format!("not a valid filter: {e}")))?;
    spec.validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_filters_parse_and_unknowns_are_named() {
        let f = parse(
            r#"{"match":"any","messengers":["telegram"],"has_phone":true,
            "conditions":[{"field":"tag","op":"is","value":"VIP"},
                          {"field":"custom_field","key":"City","op":"contains","value":"Per"},
                          {"field":"created","op":"between","value":{"from":1,"to":2}},
                          {"field":"unread","op":"is","value":true}]}"#,
        )
        .unwrap();
        assert!(!f.match_all);
        assert_eq!(
            f.conditions[0],
            Cond::Tag {
                value: "vip".into(),
                negate: false
            }
        );
        assert_eq!(
            f.conditions[1],
            Cond::Custom {
                key: "city".into(),
                op: TextOp::Contains("per".into())
            }
        );
        assert_eq!(
            f.conditions[3],
            Cond::Flag {
                flag: "unread",
                value: true
            }
        );
        let e = parse(r#"{"conditions":[{"field":"shoe_size","op":"is","value":1}]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("filter.conditions[0].field") && e.contains("shoe_size"),
            "{e}"
        );
        let e = parse(r#"{"conditions":[{"field":"tag","op":"like","value":"x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("filter.conditions[0].op"), "{e}");
        let e = parse(r#"{"messengers":["icq"]}"#).unwrap_err().to_string();
        assert!(e.contains("icq"), "{e}");
        assert!(parse(r#"{"bogus":1}"#).is_err());
        assert!(parse("'; DROP TABLE contacts; --").is_err());
    }
}
