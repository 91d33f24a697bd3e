//! Broadcasts (B3): one message, template or funnel start for every client of a filter,
//! sent at a pace each platform accepts, with a report of what became of each.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a broadcast sends. Stored: new variants go at the end, so older rows still decode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    /// A bot message (variables rendered per client).
    Text(String),
    /// A chat template by name, rendered per client.
    Template(String),
    /// Start this funnel for each client.
    Funnel(u64),
    /// A message template approved by Meta, the only thing WhatsApp lets a business send
    /// outside the 24-hour window; its parameters are rendered per client.
    WhatsAppTemplate(WaTemplate),
}

/// A WhatsApp message template and its body parameters (`{{1}}`, `{{2}}` … in the
/// template approved in WhatsApp Manager).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaTemplate {
    pub name: String,
    /// The language the template was approved in: `en`, `en_US`, `pt_BR`, `fil` …
    pub language: String,
    pub params: Vec<String>,
}

impl WaTemplate {
    /// Graph's limit on a template name.
    pub const MAX_NAME: usize = 512;
    /// Body parameters a broadcast may fill.
    pub const MAX_PARAMS: usize = 10;
    /// Longer than any body parameter WhatsApp accepts (a template body has 1,024 characters).
    pub const MAX_PARAM: usize = 1024;

    /// Refuse what Graph would refuse for every client anyway, naming the field under
    /// `field` (the request's key for the template).
    pub fn check(&self, field: &str) -> Result<()> {
        let name_ok = (1..=Self::MAX_NAME).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(Error::invalid(
                format!("{field}.name"),
                "the approved template's name: 1 to 512 of a-z, 0-9 and _",
            ));
        }
        if !language_ok(&self.language) {
            return Err(Error::invalid(
                format!("{field}.language"),
                "a WhatsApp language code such as \"en\" or \"en_US\"",
            ));
        }
        if self.params.len() > Self::MAX_PARAMS {
            return Err(Error::invalid(
                format!("{field}.params"),
                format!("at most {} parameters", Self::MAX_PARAMS),
            ));
        }
        for (i, p) in self.params.iter().enumerate() {
            let at = format!("{field}.params[{i}]");
            if p.trim().is_empty() {
                return Err(Error::invalid(at, "WhatsApp refuses an empty parameter"));
            }
            if p.chars().count() > Self::MAX_PARAM {
                return Err(Error::invalid(
                    at,
                    format!("at most {} characters", Self::MAX_PARAM),
                ));
            }
            crate::domain::automation::check_template(p).map_err(|m| Error::invalid(at, m))?;
        }
        Ok(())
    }

    /// How the sent template reads in the history, so managers see what the client got.
    pub fn summary(&self) -> String {
        let head = format!("Template {} ({})", self.name, self.language);
        if self.params.is_empty() {
            head
        } else {
            format!("{head}: {}", self.params.join(", "))
        }
    }
}

/// `en`, `fil`, `en_US`, `pt_BR`: WhatsApp's codes are a language and an optional region.
fn language_ok(code: &str) -> bool {
    let (lang, region) = match code.split_once('_') {
        Some((l, r)) => (l, Some(r)),
        None => (code, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BroadcastState {
    Running,
    Paused,
    Cancelled,
    /// Every client was handled.
    Done,
}

impl BroadcastState {
    pub fn as_str(self) -> &'static str {
        match self {
            BroadcastState::Running => "running",
            BroadcastState::Paused => "paused",
            BroadcastState::Cancelled => "cancelled",
            BroadcastState::Done => "done",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Broadcast {
    pub id: u64,
    pub name: String,
    pub payload: Payload,
    pub state: BroadcastState,
    /// Clients the filter matched when it was created.
    pub total: u64,
    /// Clients handled so far (queued, started or skipped).
    pub handled: u64,
    /// The last client handled (targets go in contact id order), where the sender resumes.
    pub cursor: u64,
    pub created_ms: i64,
    pub created_by: u64,
    pub finished_ms: Option<i64>,
}

/// What became of one client of a broadcast. Stored: new variants go at the end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Target {
    Pending,
    /// A bot message was queued; its status tells sent / delivered / read / failed.
    Queued {
        chat_id: u64,
        message_id: u64,
    },
    /// The funnel was started for the client.
    Started {
        run_id: u64,
    },
    /// Not sent, and why (chat disabled, bot messages off, blacklisted, no chat, cancelled …).
    Skipped {
        reason: String,
    },
    /// Handling the client failed in the store itself (a row that does not decode …): counted
    /// as failed, so the broadcast still finishes.
    Failed {
        reason: String,
    },
}

/// Messages per second each platform takes from one sender without refusing: Telegram's
/// broadcast limit is about 30 a second, the WhatsApp Cloud API's default throughput 80;
/// Viber publishes none, so it gets Telegram's pace; the API channel and the widget are
/// ours. Kept under the published figures so ordinary replies still get through.
pub fn per_second(channel_kind: &str) -> u32 {
    match channel_kind {
        "telegram" => 25,
        "whatsapp" => 60,
        "viber" => 25,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, language: &str, params: &[&str]) -> WaTemplate {
        WaTemplate {
            name: name.into(),
            language: language.into(),
            params: params.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn field_of(r: Result<()>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_template_is_checked_field_by_field() {
        assert!(
            t("order_update", "en_US", &["{client.name}", "#42"])
                .check("w")
                .is_ok()
        );
        assert!(t("a1", "fil", &[]).check("w").is_ok());
        assert!(t("a1", "en", &[]).check("w").is_ok());
        for bad in ["", "Order", "order-update", "заказ"] {
            assert_eq!(field_of(t(bad, "en", &[]).check("w")), "w.name", "{bad:?}");
        }
        assert!(t(&"a".repeat(512), "en", &[]).check("w").is_ok());
        assert_eq!(
            field_of(t(&"a".repeat(513), "en", &[]).check("w")),
            "w.name"
        );
        for bad in ["", "EN", "en_us", "en-US", "english", "en_USA", "e"] {
            assert_eq!(
                field_of(t("x", bad, &[]).check("w")),
                "w.language",
                "{bad:?}"
            );
        }
        let eleven = ["p"; 11];
        assert_eq!(field_of(t("x", "en", &eleven).check("w")), "w.params");
        assert_eq!(
            field_of(t("x", "en", &["a", " "]).check("w")),
            "w.params[1]"
        );
        assert_eq!(
            field_of(t("x", "en", &["{client.nmae}"]).check("w")),
            "w.params[0]"
        );
    }

    #[test]
    fn the_history_line_names_the_template_and_its_parameters() {
        assert_eq!(
            t("order_update", "en_US", &["Anna", "#42"]).summary(),
            "Template order_update (en_US): Anna, #42"
        );
        assert_eq!(t("hello", "ru", &[]).summary(), "Template hello (ru)");
    }
}
