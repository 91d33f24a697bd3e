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
    Tag {
        value: String,
        negate: bool,
    },
    Channel {
        id: String,
        negate: bool,
    },
    Messenger {
        kind: String,
        negate: bool,
    },
    SalesPlan(TextOp),
    Custom {
        key: String,
        op: TextOp,
    },
    Created {
        from: Option<i64>,
        to: Option<i64>,
    },
    LastActivity {
        from: Option<i64>,
        to: Option<i64>,
    },
    Flag {
        flag: &'static str,
        value: bool,
    },
    /// The responsible manager (T1); None: nobody.
    Assigned(Option<u64>),
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Filter {
    pub match_all: bool,
    pub messengers: Vec<String>,
    pub has_phone: Option<bool>,
    pub has_email: Option<bool>,
    pub sales_plan: Option<String>,
    pub conditions: Vec<Cond>,
    /// The list's `assigned=me|none|<id>` (T1), ANDed with the rest; not part of the wire
    /// form of a saved filter (its `assigned_manager` condition is).
    pub assignee: Option<Option<u64>>,
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
                    Cond::Assigned(match &c.value {
                        Value::Null => None,
                        v => Some(v.as_u64().ok_or_else(|| {
                            Error::invalid(
                                format!("{at}.value"),
                                "must be a manager id, or null for nobody",
                            )
                        })?),
                    })
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
            assignee: None,
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

/// The words of a value the way the index cuts custom fields into words (lowercase, ё as е,
/// split on anything but letters and digits), so `Contains` means the same in a funnel's
/// condition as in the contact list.
fn value_words(s: &str) -> Vec<String> {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect::<String>()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(24).collect())
        .collect()
}

fn text_holds(value: Option<&str>, op: &TextOp, custom: bool) -> bool {
    let v = value.map(fold_value).filter(|v| !v.is_empty());
    match op {
        TextOp::Equals(want) => v.as_deref() == Some(want.as_str()),
        TextOp::Contains(want) if custom => {
            let have = v.as_deref().map(value_words).unwrap_or_default();
            let want = value_words(want);
            !want.is_empty() && want.iter().all(|w| have.contains(w))
        }
        TextOp::Contains(want) => v.is_some_and(|v| v.contains(want.as_str())),
        TextOp::Empty => v.is_none(),
        TextOp::NotEmpty => v.is_some(),
    }
}

impl Filter {
    /// Whether one client matches, decided the same way the index decides it for the list
    /// (`search::query::contact_filter`), from the client, its chats and its tasks. Funnel
    /// conditions use it on the client in front of them, with no index round trip.
    pub fn matches(
        &self,
        c: &crate::domain::inbox::Contact,
        chats: &[crate::domain::inbox::Chat],
    ) -> bool {
        if !self.messengers.is_empty()
            && !chats
                .iter()
                .any(|ch| self.messengers.contains(&ch.channel_kind))
        {
            return false;
        }
        if self.has_phone.is_some_and(|v| v == c.phones.is_empty()) {
            return false;
        }
        if self.has_email.is_some_and(|v| v == c.emails.is_empty()) {
            return false;
        }
        if let Some(p) = &self.sales_plan
            && c.sales_plan.as_deref().map(fold_value) != Some(fold_value(p))
        {
            return false;
        }
        if self.assignee.is_some_and(|a| a != c.assignee) {
            return false;
        }
        if self.conditions.is_empty() {
            return true;
        }
        let one = |cond: &Cond| match cond {
            Cond::Tag { value, negate } => {
                c.tags.iter().any(|t| fold_value(t) == *value) != *negate
            }
            Cond::Channel { id, negate } => {
                chats.iter().any(|ch| fold_value(&ch.channel_id) == *id) != *negate
            }
            Cond::Messenger { kind, negate } => {
                chats.iter().any(|ch| ch.channel_kind == *kind) != *negate
            }
            Cond::SalesPlan(op) => text_holds(c.sales_plan.as_deref(), op, false),
            Cond::Custom { key, op } => {
                let value = c
                    .custom_fields
                    .iter()
                    .find(|(k, _)| fold_value(k) == *key)
                    .map(|(_, v)| v.as_str());
                text_holds(value, op, true)
            }
            Cond::Created { from, to } => {
                from.is_none_or(|f| c.created_ms >= f) && to.is_none_or(|t| c.created_ms <= t)
            }
            Cond::LastActivity { from, to } => {
                from.is_none_or(|f| c.last_activity_ms >= f)
                    && to.is_none_or(|t| c.last_activity_ms <= t)
            }
            Cond::Flag { flag, value } => {
                let on = match *flag {
                    "archived" => c.archived,
                    "blacklisted" => c.blacklisted,
                    "open_task" => c.open_tasks > 0,
                    "unread" => c.unread > 0,
                    "has_phone" => !c.phones.is_empty(),
                    "has_email" => !c.emails.is_empty(),
                    _ => false,
                };
                on == *value
            }
            Cond::Assigned(id) => c.assignee == *id,
        };
        if self.match_all {
            self.conditions.iter().all(one)
        } else {
            self.conditions.iter().any(one)
        }
    }
}

#[cfg(test)]
mod match_tests {
    use super::*;
    use crate::domain::inbox::{Chat, Contact};

    fn f(json: &str) -> Filter {
        parse(json).unwrap()
    }

    #[test]
    fn one_client_is_matched_like_the_list_filters_it() {
        let mut c = Contact {
            id: 1,
            name: "Анна".into(),
            phones: vec!["79001234567".into()],
            tags: vec!["VIP".into()],
            sales_plan: Some("Wholesale".into()),
            created_ms: 1_000,
            assignee: Some(7),
            ..Default::default()
        };
        c.custom_fields
            .insert("City".into(), "Нижний Новгород".into());
        let chats = vec![Chat {
            channel_id: "tg-main".into(),
            channel_kind: "telegram".into(),
            ..Default::default()
        }];
        let yes = [
            r#"{"conditions":[{"field":"tag","op":"is","value":"vip"}]}"#,
            r#"{"messengers":["telegram"],"has_phone":true}"#,
            r#"{"conditions":[{"field":"custom_field","key":"city","op":"contains","value":"новгород"}]}"#,
            r#"{"conditions":[{"field":"sales_plan","op":"equals","value":"wholesale"}]}"#,
            r#"{"match":"any","conditions":[{"field":"tag","op":"is","value":"nope"},{"field":"has_email","op":"is","value":false}]}"#,
            r#"{"conditions":[{"field":"assigned_manager","op":"is","value":7}]}"#,
        ];
        for j in yes {
            assert!(f(j).matches(&c, &chats), "{j}");
        }
        let no = [
            r#"{"conditions":[{"field":"tag","op":"is_not","value":"vip"}]}"#,
            r#"{"messengers":["whatsapp"]}"#,
            r#"{"has_email":true}"#,
            r#"{"conditions":[{"field":"custom_field","key":"city","op":"contains","value":"москва"}]}"#,
            r#"{"conditions":[{"field":"assigned_manager","op":"is","value":8}]}"#,
            r#"{"conditions":[{"field":"assigned_manager","op":"is","value":null}]}"#,
        ];
        for j in no {
            assert!(!f(j).matches(&c, &chats), "{j}");
        }
    }
}
