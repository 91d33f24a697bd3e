//! Funnels (B1) as data: a trigger, a list of steps (a condition holds two more lists), a
//! position in that tree, and one client's run through it. No I/O: the engine reads these,
//! the store keeps them with postcard.
//!
//! Two shapes on purpose. `Funnel`, `Trigger` and `Step` are the stored shape: plain
//! externally tagged enums, because postcard cannot decode serde's internally tagged ones.
//! The wire shape (`{"kind": "send", …}`, SPEC "Public interfaces → Automation") is
//! `wire::FunnelInput`; `wire::validate` turns it into a `Funnel`, `FunnelInput::from`
//! turns a `Funnel` back for JSON answers.

pub mod template;
pub mod wire;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::filter::FilterSpec;
use super::hours::TimeOfDay;

pub use template::{Vars, check_template, render};
pub use wire::{FunnelInput, StepInput, TriggerInput, parse, validate};

/// A named sequence of steps a client enters on a trigger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Funnel {
    pub id: u64,
    pub name: String,
    pub enabled: bool,
    /// Channel ids (from the config) the trigger listens on; empty means every channel.
    pub channels: Vec<String>,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What puts a client into a funnel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Trigger {
    /// The client subscribed to a channel (a new chat: /start, a widget visitor, …).
    Subscribed,
    /// The client's first message in a chat.
    FirstMessage,
    /// A client message containing one of the keywords as whole words (see `matches_text`).
    Keyword { keywords: Vec<String> },
    /// A tag was added to the client.
    TagAdded { tag: String },
    /// Started by a manager or through `POST /api/v1/funnels/{id}/start` only.
    Manual,
}

/// One step. Stored as is; the wire names are in `Step::kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// A bot message. `template` names a chat template (A3) whose text is sent instead of
    /// `text` when it still exists at send time; `text` is the fallback. Both may hold
    /// `{variables}` (see `template::render`).
    Send {
        text: String,
        template: Option<String>,
    },
    /// Wait a duration (1 s to 365 days).
    Delay { seconds: u64 },
    /// Wait until the next time the business's clock shows `at` (today if still ahead).
    DelayUntil { at: TimeOfDay },
    /// Wait until business hours (B4) are open; no wait when they are open now.
    DelayBusinessHours,
    /// Go on with `yes` when the client matches the filter (L5), else with `no`; after the
    /// branch the run continues with the step after the condition.
    Condition {
        /// Stored as JSON text in postcard: a filter holds `serde_json::Value`s, which
        /// postcard cannot decode (no `deserialize_any`).
        #[serde(with = "filter_text")]
        filter: FilterSpec,
        yes: Vec<Step>,
        no: Vec<Step>,
    },
    /// Add and remove tags.
    Tag {
        add: Vec<String>,
        remove: Vec<String>,
    },
    /// Set a custom field of the client.
    SetField { name: String, value: String },
    /// A task for the responsible manager, due after `due_seconds` if given.
    Task {
        title: String,
        due_seconds: Option<u64>,
    },
    /// Make `manager_id` the responsible manager; None hands the client to automatic
    /// assignment (T1), which leaves it unassigned where there is none.
    Assign { manager_id: Option<u64> },
    /// Open a dialog for the client (it shows in the Dialogs section).
    OpenDialog,
    /// POST the run's context to `url`. Only http(s) is accepted here; the SSRF rules
    /// (no private, loopback or link-local addresses, checked on the resolved address)
    /// are enforced where the request is made, since DNS can change after validation.
    Webhook { url: String },
    /// End the run here.
    Stop,
}

impl Step {
    /// The wire name (`"kind"`), also used in system messages and the editor.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Send { .. } => "send",
            Step::Delay { .. } => "delay",
            Step::DelayUntil { .. } => "delay_until",
            Step::DelayBusinessHours => "delay_business_hours",
            Step::Condition { .. } => "condition",
            Step::Tag { .. } => "tag",
            Step::SetField { .. } => "set_field",
            Step::Task { .. } => "task",
            Step::Assign { .. } => "assign",
            Step::OpenDialog => "open_dialog",
            Step::Webhook { .. } => "webhook",
            Step::Stop => "stop",
        }
    }

    /// True for the steps that wait (the engine parks the run with a due time).
    pub fn is_delay(&self) -> bool {
        matches!(
            self,
            Step::Delay { .. } | Step::DelayUntil { .. } | Step::DelayBusinessHours
        )
    }

    /// A short description for the run's system messages and the editor ("waiting 2 h",
    /// "tags +warm −cold"). Plain English, like the other system messages.
    pub fn summary(&self) -> String {
        match self {
            Step::Send { text, template } => match template {
                Some(t) => format!("send template \u{2018}{t}\u{2019}"),
                None => format!("send \u{201c}{}\u{201d}", super::normalise::preview(text)),
            },
            Step::Delay { seconds } => format!("waiting {}", duration(*seconds)),
            Step::DelayUntil { at } => format!("waiting until {at}"),
            Step::DelayBusinessHours => "waiting for business hours".into(),
            Step::Condition { .. } => "condition".into(),
            Step::Tag { add, remove } => {
                let mut parts: Vec<String> = add.iter().map(|t| format!("+{t}")).collect();
                parts.extend(remove.iter().map(|t| format!("\u{2212}{t}")));
                format!("tags {}", parts.join(" "))
            }
            Step::SetField { name, value } => format!("field {name} = {value}"),
            Step::Task { title, .. } => format!("task \u{201c}{title}\u{201d}"),
            Step::Assign {
                manager_id: Some(id),
            } => format!("assign manager {id}"),
            Step::Assign { manager_id: None } => "assign automatically".into(),
            Step::OpenDialog => "open a dialog".into(),
            Step::Webhook { url } => format!("webhook {url}"),
            Step::Stop => "stop".into(),
        }
    }

    fn branch(&self, b: Branch) -> Option<&[Step]> {
        match (self, b) {
            (Step::Condition { yes, .. }, Branch::Yes) => Some(yes),
            (Step::Condition { no, .. }, Branch::No) => Some(no),
            _ => None,
        }
    }
}

/// Every step kind on the wire, for error messages and the editor.
pub const STEP_KINDS: &[&str] = &[
    "send",
    "delay",
    "delay_until",
    "delay_business_hours",
    "condition",
    "tag",
    "set_field",
    "task",
    "assign",
    "open_dialog",
    "webhook",
    "stop",
];

/// A condition's branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Branch {
    Yes,
    No,
}

/// Where a run stands: `steps[index]`, then for each hop the condition's branch and the
/// index in it. Displayed as `2`, `2.yes.0`, `2.yes.0.no.3` (what the UI counts clients
/// by); `field()` gives the validation path, `steps[2].yes[0]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StepPath {
    pub index: u32,
    pub inner: Vec<(Branch, u32)>,
}

impl StepPath {
    pub fn top(index: u32) -> StepPath {
        StepPath {
            index,
            inner: Vec::new(),
        }
    }

    /// The path as a field name in a 422, e.g. `steps[2].yes[0]`.
    pub fn field(&self) -> String {
        let mut s = format!("steps[{}]", self.index);
        for (b, i) in &self.inner {
            let b = match b {
                Branch::Yes => "yes",
                Branch::No => "no",
            };
            s.push_str(&format!(".{b}[{i}]"));
        }
        s
    }

    fn last_mut(&mut self) -> &mut u32 {
        match self.inner.last_mut() {
            Some((_, i)) => i,
            None => &mut self.index,
        }
    }

    fn last(&self) -> u32 {
        self.inner.last().map_or(self.index, |(_, i)| *i)
    }
}

impl fmt::Display for StepPath {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.index)?;
        for (b, i) in &self.inner {
            let b = match b {
                Branch::Yes => "yes",
                Branch::No => "no",
            };
            write!(f, ".{b}.{i}")?;
        }
        Ok(())
    }
}

impl FromStr for StepPath {
    type Err = String;

    /// Parse the `Display` form (`2.yes.0`).
    fn from_str(s: &str) -> Result<StepPath, String> {
        let bad = || format!("{s:?} is not a step path like 2 or 2.yes.0");
        let mut parts = s.split('.');
        let index = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let mut inner = Vec::new();
        while let Some(b) = parts.next() {
            let b = match b {
                "yes" => Branch::Yes,
                "no" => Branch::No,
                _ => return Err(bad()),
            };
            let i = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            inner.push((b, i));
        }
        Ok(StepPath { index, inner })
    }
}

impl Funnel {
    /// The first step, None for a funnel without steps (which `validate` refuses).
    pub fn first(&self) -> Option<StepPath> {
        (!self.steps.is_empty()).then(|| StepPath::top(0))
    }

    /// The list holding the step at `path` (the top list or a branch).
    fn list_of(&self, path: &StepPath) -> Option<&[Step]> {
        let mut list: &[Step] = &self.steps;
        let mut at = usize::try_from(path.index).ok()?;
        for (b, i) in &path.inner {
            list = list.get(at)?.branch(*b)?;
            at = usize::try_from(*i).ok()?;
        }
        Some(list)
    }

    /// The step at `path`; None when the path does not exist (the funnel was edited while
    /// the run waited: the engine ends such a run rather than guess).
    pub fn step_at(&self, path: &StepPath) -> Option<&Step> {
        self.list_of(path)?.get(usize::try_from(path.last()).ok()?)
    }

    /// The step after the one at `path` when that one is done, without entering it (a
    /// condition's branches are entered with `enter`): the next in the same list; after the
    /// last step of a branch, the step after the condition, outwards as far as needed. None
    /// when the funnel is finished, or when `path` names no step.
    pub fn next_after(&self, path: &StepPath) -> Option<StepPath> {
        self.step_at(path)?;
        let mut p = path.clone();
        loop {
            let len = self.list_of(&p)?.len();
            let next = p.last().checked_add(1)?;
            if usize::try_from(next).ok()? < len {
                *p.last_mut() = next;
                return Some(p);
            }
            // Past the end of a branch: continue after its condition; past the top: done.
            p.inner.pop()?;
        }
    }

    /// Where to go from the condition at `path` once `branch` is chosen: its first step, or,
    /// for an empty branch, the step after the condition. None if `path` is not a condition
    /// or the funnel ends there.
    pub fn enter(&self, path: &StepPath, branch: Branch) -> Option<StepPath> {
        let list = self.step_at(path)?.branch(branch)?;
        if list.is_empty() {
            return self.next_after(path);
        }
        let mut p = path.clone();
        p.inner.push((branch, 0));
        Some(p)
    }

    /// Every step with its path, depth first in run order (the editor's counts per step).
    pub fn walk(&self) -> Vec<(StepPath, &Step)> {
        fn go<'a>(list: &'a [Step], base: &StepPath, out: &mut Vec<(StepPath, &'a Step)>) {
            for (i, s) in list.iter().enumerate() {
                let mut p = base.clone();
                // Lists are bounded by validation far below u32::MAX.
                *p.last_mut() = u32::try_from(i).unwrap_or(u32::MAX);
                out.push((p.clone(), s));
                for b in [Branch::Yes, Branch::No] {
                    if let Some(inner) = s.branch(b) {
                        let mut q = p.clone();
                        q.inner.push((b, 0));
                        go(inner, &q, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        go(&self.steps, &StepPath::top(0), &mut out);
        out
    }
}

impl Trigger {
    /// The wire name (`"kind"`).
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Subscribed => "subscribed",
            Trigger::FirstMessage => "first_message",
            Trigger::Keyword { .. } => "keyword",
            Trigger::TagAdded { .. } => "tag_added",
            Trigger::Manual => "manual",
        }
    }

    /// For a keyword trigger, the keyword found in a client's `text`: whole words,
    /// case-insensitive, any script ("Цена?" matches "цена", "price list" matches
    /// "the Price  List!", "price" does not match "priceless"). A keyword of several words
    /// matches them in a row. None for other triggers or no match.
    pub fn matches_text(&self, text: &str) -> Option<&str> {
        let Trigger::Keyword { keywords } = self else {
            return None;
        };
        let said = words(text);
        keywords.iter().map(String::as_str).find(|k| {
            let want = words(k);
            !want.is_empty() && said.windows(want.len()).any(|w| w == want.as_slice())
        })
    }
}

/// The words of a text, folded for matching: split on anything that is not a letter or a
/// digit (Unicode: Cyrillic and Latin alike), lowercased, and "ё" read as "е" because
/// Russian writers use them interchangeably.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('ё', "е"))
        .collect()
}

/// A duration the way people say it: "45 s", "2 h", "1 h 30 min", "1 d 3 h" (the two
/// largest non-zero units; a delay's system message needs no more).
pub fn duration(seconds: u64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")];
    let mut left = seconds;
    let mut parts = Vec::new();
    for (size, name) in units {
        if left >= size && parts.len() < 2 {
            parts.push(format!("{} {name}", left / size));
            left %= size;
        }
    }
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
}

/// One client's run through a funnel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: u64,
    pub funnel_id: u64,
    pub contact_id: u64,
    /// The chat sends go to (the one the trigger came from); None for a client started by
    /// hand or by a filter, where the engine picks the client's default chat.
    pub chat_id: Option<u64>,
    /// The step to run (or being waited on) next.
    pub path: StepPath,
    pub state: RunState,
    pub started_ms: i64,
    pub updated_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RunState {
    /// Due to run the step at `path` at `due_ms` (now or later: a delay).
    Waiting { due_ms: i64 },
    /// Passed the last step, or a `stop` step.
    Done,
    /// Ended early by the engine: the funnel was deleted or edited under it, a send cap.
    Stopped { reason: String },
    /// Ended by a person or a rule: a manager's "stop", a disabled chat (H2, for good).
    Cancelled { reason: String },
}

impl RunState {
    /// Still going (the only state the scheduler looks at).
    pub fn is_active(&self) -> bool {
        matches!(self, RunState::Waiting { .. })
    }

    /// The wire name for the runs list.
    pub fn kind(&self) -> &'static str {
        match self {
            RunState::Waiting { .. } => "waiting",
            RunState::Done => "done",
            RunState::Stopped { .. } => "stopped",
            RunState::Cancelled { .. } => "cancelled",
        }
    }
}

/// A filter as JSON text in binary formats (postcard), as itself in JSON.
mod filter_text {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::domain::filter::FilterSpec;

    pub fn serialize<S: Serializer>(f: &FilterSpec, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return f.serialize(s);
        }
        let text = serde_json::to_string(f).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FilterSpec, D::Error> {
        if d.is_human_readable() {
            return FilterSpec::deserialize(d);
        }
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests;
