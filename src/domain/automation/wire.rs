//! The funnel's JSON shape (SPEC "Public interfaces → Automation"): `{"name", "enabled",
//! "channels", "trigger": {"kind", …}, "steps": [{"kind", …}]}`, parsed so that a 422 names
//! the step (`steps[2].yes[0].kind`), and validated into the stored `Funnel`.
//!
//! Steps are read one at a time from a `serde_json::Value` rather than with one derive over
//! the whole body: serde's error for a nested unknown variant says what, not where.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Funnel, STEP_KINDS, Step, Trigger, check_template, words};
use crate::domain::filter::FilterSpec;
use crate::domain::hours::TimeOfDay;
use crate::domain::normalise;
use crate::error::{Error, Result};

const MAX_NAME: usize = 100;
const MAX_CHANNELS: usize = 50;
const MAX_KEYWORDS: usize = 100;
const MAX_KEYWORD: usize = 100;
/// Steps in the whole tree: an editor-sized funnel, and a bound on work per validation.
const MAX_STEPS: usize = 200;
/// Conditions inside conditions; also bounds the recursion here and in the engine.
const MAX_DEPTH: usize = 8;
const MAX_TEXT: usize = 4096;
const MAX_DELAY_SECONDS: u64 = 365 * 24 * 3600;
const MAX_TAGS: usize = 20;
const MAX_URL: usize = 2048;

/// A funnel as clients send and receive it. Serialising `FunnelInput::from(&funnel)` gives
/// the JSON of a stored funnel (the API adds `id` and the times).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelInput {
    pub name: String,
    #[serde(default = "on")]
    pub enabled: bool,
    #[serde(default)]
    pub channels: Vec<String>,
    pub trigger: TriggerInput,
    pub steps: Vec<StepInput>,
}

fn on() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerInput {
    Subscribed,
    FirstMessage,
    Keyword { keywords: Vec<String> },
    TagAdded { tag: String },
    Manual,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepInput {
    Send {
        #[serde(default)]
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
    },
    Delay {
        seconds: u64,
    },
    DelayUntil {
        /// "HH:MM" on the business's clock.
        at: String,
    },
    DelayBusinessHours,
    Condition {
        #[serde(default)]
        filter: FilterSpec,
        #[serde(default)]
        yes: Vec<StepInput>,
        #[serde(default)]
        no: Vec<StepInput>,
    },
    Tag {
        #[serde(default)]
        add: Vec<String>,
        #[serde(default)]
        remove: Vec<String>,
    },
    SetField {
        name: String,
        #[serde(default)]
        value: String,
    },
    Task {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_seconds: Option<u64>,
    },
    Assign {
        #[serde(default)]
        manager_id: Option<u64>,
    },
    OpenDialog,
    Webhook {
        url: String,
    },
    Stop,
}

/// The funnel's top level without its steps, read on its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    name: String,
    #[serde(default = "on")]
    enabled: bool,
    #[serde(default)]
    channels: Vec<String>,
}

/// Read a request body into a `FunnelInput`; an error names the field or step (422).
pub fn parse(body: &Value) -> Result<FunnelInput> {
    let Value::Object(map) = body else {
        return Err(Error::invalid("funnel", "must be a JSON object"));
    };
    let mut head = map.clone();
    let trigger = head
        .remove("trigger")
        .ok_or_else(|| Error::invalid("trigger", "is required"))?;
    let steps = head
        .remove("steps")
        .ok_or_else(|| Error::invalid("steps", "is required"))?;
    let head: Head = serde_json::from_value(Value::Object(head))
        .map_err(|e| Error::invalid(field_of(&e.to_string(), "funnel"), e.to_string()))?;
    let trigger: TriggerInput = serde_json::from_value(trigger).map_err(|e| {
        let m = e.to_string();
        let field = if m.contains("variant") || m.contains("`kind`") {
            "trigger.kind".to_string()
        } else {
            field_of(&m, "trigger")
        };
        Error::invalid(field, m)
    })?;
    let mut count = 0;
    let steps = steps_from(&steps, "steps", 0, &mut count)?;
    Ok(FunnelInput {
        name: head.name,
        enabled: head.enabled,
        channels: head.channels,
        trigger,
        steps,
    })
}

/// `prefix.field` for serde's "missing field `x`" / "unknown field `x`", else `fallback`.
fn field_of(message: &str, fallback: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.split_once(p))
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(name, _)| name);
    match named {
        Some(n) if !n.is_empty() && !n.contains(' ') && fallback != "funnel" => {
            format!("{fallback}.{n}")
        }
        Some(n) if !n.is_empty() && !n.contains(' ') => n.to_string(),
        _ => fallback.to_string(),
    }
}

fn steps_from(v: &Value, at: &str, depth: usize, count: &mut usize) -> Result<Vec<StepInput>> {
    let Value::Array(items) = v else {
        return Err(Error::invalid(at, "must be a list of steps"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, s)| step_from(s, &format!("{at}[{i}]"), depth, count))
        .collect()
}

fn step_from(v: &Value, at: &str, depth: usize, count: &mut usize) -> Result<StepInput> {
    *count += 1;
    if *count > MAX_STEPS {
        return Err(Error::invalid(
            at,
            format!("a funnel has at most {MAX_STEPS} steps"),
        ));
    }
    let Value::Object(map) = v else {
        return Err(Error::invalid(at, "must be an object with a \"kind\""));
    };
    let kind = match map.get("kind") {
        Some(Value::String(k)) => k.as_str(),
        Some(_) => return Err(Error::invalid(format!("{at}.kind"), "must be a string")),
        None => return Err(Error::invalid(format!("{at}.kind"), "is required")),
    };
    if !STEP_KINDS.contains(&kind) {
        return Err(Error::invalid(
            format!("{at}.kind"),
            format!(
                "unknown step kind {kind:?} (one of {})",
                STEP_KINDS.join(", ")
            ),
        ));
    }
    if kind == "condition" {
        return condition_from(map, at, depth, count);
    }
    serde_json::from_value(v.clone()).map_err(|e| {
        let m = e.to_string();
        Error::invalid(field_of(&m, at), m)
    })
}

fn condition_from(
    map: &Map<String, Value>,
    at: &str,
    depth: usize,
    count: &mut usize,
) -> Result<StepInput> {
    if depth >= MAX_DEPTH {
        return Err(Error::invalid(
            at,
            format!("conditions nest at most {MAX_DEPTH} deep"),
        ));
    }
    if let Some(k) = map
        .keys()
        .find(|k| !["kind", "filter", "yes", "no"].contains(&k.as_str()))
    {
        return Err(Error::invalid(
            format!("{at}.{k}"),
            "unknown field (a condition has filter, yes, no)",
        ));
    }
    let filter = match map.get("filter") {
        Some(f) => serde_json::from_value(f.clone())
            .map_err(|e| Error::invalid(format!("{at}.filter"), e.to_string()))?,
        None => FilterSpec::default(),
    };
    let mut branch = |name: &str| match map.get(name) {
        Some(b) => steps_from(b, &format!("{at}.{name}"), depth + 1, count),
        None => Ok(Vec::new()),
    };
    let yes = branch("yes")?;
    let no = branch("no")?;
    Ok(StepInput::Condition { filter, yes, no })
}

/// Check a funnel and turn it into the stored shape. `id` and the times are 0: the store
/// sets them. A loop cannot be written in this list model (a run only moves forward), so
/// there is no "loop without a delay" to refuse; the per-client send cap guards the rest.
pub fn validate(input: &FunnelInput) -> Result<Funnel> {
    let name = normalise::text(&input.name, MAX_NAME + 1);
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            "name",
            format!("at most {MAX_NAME} characters"),
        ));
    }
    if input.channels.len() > MAX_CHANNELS {
        return Err(Error::invalid(
            "channels",
            format!("at most {MAX_CHANNELS}"),
        ));
    }
    let mut channels: Vec<String> = Vec::new();
    for (i, c) in input.channels.iter().enumerate() {
        let c = c.trim();
        if c.is_empty() || c.len() > 64 {
            return Err(Error::invalid(
                format!("channels[{i}]"),
                "must be a channel id",
            ));
        }
        if !channels.iter().any(|x| x == c) {
            channels.push(c.to_string());
        }
    }
    if input.steps.is_empty() {
        return Err(Error::invalid("steps", "a funnel needs at least one step"));
    }
    let mut count = 0;
    Ok(Funnel {
        id: 0,
        name,
        enabled: input.enabled,
        channels,
        trigger: trigger(&input.trigger)?,
        steps: steps(&input.steps, "steps", 0, &mut count)?,
        created_ms: 0,
        updated_ms: 0,
    })
}

fn trigger(t: &TriggerInput) -> Result<Trigger> {
    Ok(match t {
        TriggerInput::Subscribed => Trigger::Subscribed,
        TriggerInput::FirstMessage => Trigger::FirstMessage,
        TriggerInput::Manual => Trigger::Manual,
        TriggerInput::TagAdded { tag } => {
            let tag = normalise::text(tag, 64);
            if tag.is_empty() {
                return Err(Error::invalid("trigger.tag", "name the tag"));
            }
            Trigger::TagAdded { tag }
        }
        TriggerInput::Keyword { keywords } => {
            if keywords.len() > MAX_KEYWORDS {
                return Err(Error::invalid(
                    "trigger.keywords",
                    format!("at most {MAX_KEYWORDS}"),
                ));
            }
            let mut out: Vec<String> = Vec::new();
            for (i, k) in keywords.iter().enumerate() {
                let k = normalise::text(k, MAX_KEYWORD + 1);
                if k.chars().count() > MAX_KEYWORD {
                    return Err(Error::invalid(
                        format!("trigger.keywords[{i}]"),
                        format!("at most {MAX_KEYWORD} characters"),
                    ));
                }
                // A keyword without letters or digits could never match a whole word.
                if words(&k).is_empty() {
                    return Err(Error::invalid(
                        format!("trigger.keywords[{i}]"),
                        "needs a word (letters or digits)",
                    ));
                }
                if !out.iter().any(|x| words(x) == words(&k)) {
                    out.push(k);
                }
            }
            if out.is_empty() {
                return Err(Error::invalid(
                    "trigger.keywords",
                    "a keyword trigger needs at least one keyword",
                ));
            }
            Trigger::Keyword { keywords: out }
        }
    })
}

fn steps(list: &[StepInput], at: &str, depth: usize, count: &mut usize) -> Result<Vec<Step>> {
    list.iter()
        .enumerate()
        .map(|(i, s)| step(s, &format!("{at}[{i}]"), depth, count))
        .collect()
}

fn step(s: &StepInput, at: &str, depth: usize, count: &mut usize) -> Result<Step> {
    // Counted again here: a FunnelInput may come from somewhere other than `parse`.
    *count += 1;
    if *count > MAX_STEPS {
        return Err(Error::invalid(
            at,
            format!("a funnel has at most {MAX_STEPS} steps"),
        ));
    }
    let field = |name: &str| format!("{at}.{name}");
    Ok(match s {
        StepInput::Send { text, template } => {
            let text = bounded_text(text, &field("text"))?;
            let template = match template.as_deref().map(str::trim) {
                None => None,
                Some("") => None,
                Some(t) if t.chars().count() > MAX_NAME => {
                    return Err(Error::invalid(field("template"), "not a template name"));
                }
                Some(t) => Some(t.to_string()),
            };
            if text.trim().is_empty() && template.is_none() {
                return Err(Error::invalid(field("text"), "must not be empty"));
            }
            check_template(&text).map_err(|m| Error::invalid(field("text"), m))?;
            Step::Send { text, template }
        }
        StepInput::Delay { seconds } => {
            if *seconds == 0 || *seconds > MAX_DELAY_SECONDS {
                return Err(Error::invalid(
                    field("seconds"),
                    format!("must be 1 to {MAX_DELAY_SECONDS} (365 days)"),
                ));
            }
            Step::Delay { seconds: *seconds }
        }
        StepInput::DelayUntil { at: time } => {
            let t = TimeOfDay::parse(time)
                .filter(|t| !t.is_end_of_day())
                .ok_or_else(|| Error::invalid(field("at"), "must be a time like \"09:00\""))?;
            Step::DelayUntil { at: t }
        }
        StepInput::DelayBusinessHours => Step::DelayBusinessHours,
        StepInput::Condition { filter, yes, no } => {
            if depth >= MAX_DEPTH {
                return Err(Error::invalid(
                    at,
                    format!("conditions nest at most {MAX_DEPTH} deep"),
                ));
            }
            if filter.is_empty() {
                return Err(Error::invalid(
                    field("filter"),
                    "an empty filter matches every client; give a condition",
                ));
            }
            // The filter module's own rules; its field names (filter.conditions[0].op) are
            // put under the step's path.
            filter.validate().map_err(|e| match e {
                Error::Invalid { field: f, message } => {
                    Error::invalid(format!("{at}.{f}"), message)
                }
                other => other,
            })?;
            Step::Condition {
                filter: filter.clone(),
                yes: steps(yes, &field("yes"), depth + 1, count)?,
                no: steps(no, &field("no"), depth + 1, count)?,
            }
        }
        StepInput::Tag { add, remove } => Step::Tag {
            add: tags(add, &field("add"))?,
            remove: tags(remove, &field("remove"))?,
        }
        .tag_not_empty(at)?,
        StepInput::SetField { name, value } => {
            let name = name.trim();
            // The same bounds as a manager's edit of custom fields (inbox/clients.rs).
            if name.is_empty() || name.len() > 64 {
                return Err(Error::invalid(field("name"), "must be 1–64 bytes"));
            }
            if value.len() > MAX_TEXT {
                return Err(Error::invalid(field("value"), "at most 4 KiB"));
            }
            Step::SetField {
                name: name.to_string(),
                value: value.clone(),
            }
        }
        StepInput::Task { title, due_seconds } => {
            let title = normalise::text(title, 200);
            if title.is_empty() {
                return Err(Error::invalid(field("title"), "must not be empty"));
            }
            if let Some(d) = due_seconds
                && (*d == 0 || *d > MAX_DELAY_SECONDS)
            {
                return Err(Error::invalid(
                    field("due_seconds"),
                    format!("must be 1 to {MAX_DELAY_SECONDS} (365 days)"),
                ));
            }
            Step::Task {
                title,
                due_seconds: *due_seconds,
            }
        }
        StepInput::Assign { manager_id } => Step::Assign {
            manager_id: *manager_id,
        },
        StepInput::OpenDialog => Step::OpenDialog,
        StepInput::Webhook { url } => Step::Webhook {
            url: webhook_url(url, &field("url"))?,
        },
        StepInput::Stop => Step::Stop,
    })
}

impl Step {
    /// A tag step that neither adds nor removes is a mistake in the editor.
    fn tag_not_empty(self, at: &str) -> Result<Step> {
        match &self {
            Step::Tag { add, remove } if add.is_empty() && remove.is_empty() => Err(
                Error::invalid(format!("{at}.add"), "add or remove at least one tag"),
            ),
            _ => Ok(self),
        }
    }
}

fn bounded_text(text: &str, at: &str) -> Result<String> {
    if text.chars().count() > MAX_TEXT {
        return Err(Error::invalid(at, format!("at most {MAX_TEXT} characters")));
    }
    Ok(normalise::text(text, MAX_TEXT))
}

fn tags(list: &[String], at: &str) -> Result<Vec<String>> {
    if list.len() > MAX_TAGS {
        return Err(Error::invalid(at, format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in list.iter().enumerate() {
        // The same normal form as a manager's tag (inbox/clients.rs add_tag).
        let t = normalise::text(t, 64);
        if t.is_empty() {
            return Err(Error::invalid(format!("{at}[{i}]"), "must not be empty"));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Only the form is checked here: http(s), a host, no spaces. Whether the host may be
/// called (SSRF: private, loopback, link-local addresses) is decided where the request is
/// made, on the resolved address, with the same rules as attachment URLs.
fn webhook_url(url: &str, at: &str) -> Result<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let ok = url.len() <= MAX_URL
        && host.is_some_and(|h| !h.is_empty() && !h.starts_with(':') && !h.contains('@'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        return Err(Error::invalid(
            at,
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(url.to_string())
}

impl From<&Funnel> for FunnelInput {
    fn from(f: &Funnel) -> FunnelInput {
        FunnelInput {
            name: f.name.clone(),
            enabled: f.enabled,
            channels: f.channels.clone(),
            trigger: match &f.trigger {
                Trigger::Subscribed => TriggerInput::Subscribed,
                Trigger::FirstMessage => TriggerInput::FirstMessage,
                Trigger::Keyword { keywords } => TriggerInput::Keyword {
                    keywords: keywords.clone(),
                },
                Trigger::TagAdded { tag } => TriggerInput::TagAdded { tag: tag.clone() },
                Trigger::Manual => TriggerInput::Manual,
            },
            steps: f.steps.iter().map(StepInput::from).collect(),
        }
    }
}

impl From<&Step> for StepInput {
    fn from(s: &Step) -> StepInput {
        match s.clone() {
            Step::Send { text, template } => StepInput::Send { text, template },
            Step::Delay { seconds } => StepInput::Delay { seconds },
            Step::DelayUntil { at } => StepInput::DelayUntil { at: at.to_string() },
            Step::DelayBusinessHours => StepInput::DelayBusinessHours,
            Step::Condition { filter, yes, no } => StepInput::Condition {
                filter,
                yes: yes.iter().map(StepInput::from).collect(),
                no: no.iter().map(StepInput::from).collect(),
            },
            Step::Tag { add, remove } => StepInput::Tag { add, remove },
            Step::SetField { name, value } => StepInput::SetField { name, value },
            Step::Task { title, due_seconds } => StepInput::Task { title, due_seconds },
            Step::Assign { manager_id } => StepInput::Assign { manager_id },
            Step::OpenDialog => StepInput::OpenDialog,
            Step::Webhook { url } => StepInput::Webhook { url },
            Step::Stop => StepInput::Stop,
        }
    }
}

impl Funnel {
    /// Apply a PATCH body (any top-level keys of the wire shape, e.g. `{"enabled": false}`;
    /// `id` and the times are ignored) and validate the result. The id and the times stay:
    /// setting `updated_ms` is the caller's, who has the clock.
    pub fn patched(&self, patch: &Value) -> Result<Funnel> {
        let Value::Object(changes) = patch else {
            return Err(Error::invalid("funnel", "must be a JSON object"));
        };
        let mut body = serde_json::to_value(FunnelInput::from(self))
            .map_err(|e| Error::Internal(format!("funnel to JSON: {e}")))?;
        if let Value::Object(m) = &mut body {
            // A client that PATCHes back what it GOT sends the read-only keys too.
            for (k, v) in changes {
                if !["id", "created_ms", "updated_ms"].contains(&k.as_str()) {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        let mut f = validate(&parse(&body)?)?;
        f.id = self.id;
        f.created_ms = self.created_ms;
        f.updated_ms = self.updated_ms;
        Ok(f)
    }
}
