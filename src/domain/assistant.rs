//! The AI assistant (B2) as plain data and rules: what the assistant knows about one chat
//! (where its history starts, a pause, the answer it owes), usage counters, the words that
//! mean "a person, please", and the hand-over marker in an answer.

use serde::{Deserialize, Serialize};

/// What an assistant writes, alone or with a reason after it, when it cannot help and a
/// person should take over (for models or servers without tool calls).
pub const HANDOVER_MARKER: &str = "[[HANDOVER]]";

/// The tool the model may call to hand the chat over (`{"reason": "…"}`).
pub const HANDOVER_TOOL: &str = "hand_over_to_human";

/// Tries for one answer before the assistant gives up on it (each failure leaves a system
/// message; the next client message starts afresh).
pub const MAX_TRIES: u32 = 3;

/// Pauses before the second and the third try, unless the server asked for another one.
pub const BACKOFF_MS: [i64; 2] = [5_000, 30_000];

/// The longest Retry-After honoured; a server that asks for more is not retried.
pub const MAX_RETRY_AFTER_MS: i64 = 300_000;

/// The longest a client waits for an answer while they keep writing (the quiet period
/// restarts with each message, but not beyond this after the first unanswered one).
pub const MAX_QUIET_WAIT_MS: i64 = 20_000;

/// What the inbox needs of one configured assistant (no endpoint, no key).
#[derive(Clone, Debug)]
pub struct Rules {
    pub id: String,
    pub name: String,
    pub quiet_ms: i64,
    pub manager_pause_ms: i64,
    pub max_replies_per_hour: u32,
    pub max_history: usize,
    pub timeout_ms: i64,
    pub handover_words: Vec<String>,
    pub handover_reply: String,
}

/// The assistant's state in one chat.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChatState {
    pub chat_id: u64,
    /// The assistant's history starts after this message (the last Reset).
    pub since_msg: u64,
    /// A manager replied by hand: no answers until then.
    pub paused_until_ms: i64,
    /// The answer the assistant owes, if any.
    pub job: Option<Job>,
    pub hour_start_ms: i64,
    pub hour_replies: u32,
    pub usage: Usage,
}

/// An answer owed to a chat. Due after the quiet period; while a request is in flight the
/// job carries its id, so an answer that arrives after a Reset, a switch-off or a newer try
/// is recognised and dropped.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Job {
    pub due_ms: i64,
    /// When the first unanswered client message came.
    pub first_ms: i64,
    /// Failed tries so far.
    pub attempts: u32,
    /// The request in flight (0: none).
    pub call_id: u64,
    /// The client wrote again while a request was in flight: answer once more after it.
    pub more: bool,
}

/// Requests and tokens (when the endpoint reports them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub requests: u64,
    pub failures: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub last_ms: i64,
}

impl Usage {
    pub fn add(&mut self, tokens: Tokens, failed: bool, now: i64) {
        self.requests += 1;
        self.failures += u64::from(failed);
        self.prompt_tokens += tokens.prompt;
        self.completion_tokens += tokens.completion;
        self.last_ms = now;
    }
}

/// One assistant's usage over every chat and its last error, for Settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    pub usage: Usage,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    pub last_ok_ms: Option<i64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
}

/// Who said a line of the history, as the chat-completions API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaker {
    /// The client.
    User,
    /// The assistant itself, a bot or a manager: the business's side.
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub speaker: Speaker,
    pub text: String,
}

/// What one request to the assistant came to.
#[derive(Clone, Debug)]
pub enum Outcome {
    Reply {
        text: String,
        tokens: Tokens,
    },
    /// The model called the hand-over tool or wrote the marker.
    HandOver {
        reason: String,
        tokens: Tokens,
    },
    Failed {
        reason: String,
        /// The server asked to wait this long (429 / 503 Retry-After).
        retry_after_ms: Option<i64>,
        /// Worth another try (network, timeout, 429, 5xx, an empty or oversized answer).
        retry: bool,
        tokens: Tokens,
    },
}

/// Lowercase words with ё folded, separated by single spaces and framed by spaces, so a
/// phrase matches only whole words (" human " is not in " humane ").
fn words_line(s: &str) -> String {
    let mut out = String::from(" ");
    for w in s
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect::<String>()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        out.push_str(w);
        out.push(' ');
    }
    out
}

/// The hand-over word or phrase the client's text contains, if any.
pub fn asks_for_person<'a>(text: &str, words: &'a [String]) -> Option<&'a str> {
    let line = words_line(text);
    words.iter().map(String::as_str).find(|w| {
        let p = words_line(w);
        p.len() > 2 && line.contains(&p)
    })
}

/// Split the marker off an answer: `Some(reason)` when the answer hands over (the reason
/// is what followed the marker, possibly empty), with the text the client may still see.
pub fn parse_marker(answer: &str) -> (Option<String>, String) {
    match answer.find(HANDOVER_MARKER) {
        Some(at) => {
            let before = answer[..at].trim().to_string();
            let reason = answer[at + HANDOVER_MARKER.len()..]
                .trim()
                .trim_start_matches([':', '-', '—'])
                .trim()
                .to_string();
            (Some(reason), before)
        }
        None => (None, answer.trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handover_words_match_whole_words_in_any_case() {
        let words: Vec<String> = ["operator", "real person", "Оператор"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            asks_for_person("Can I talk to an OPERATOR, please?", &words),
            Some("operator")
        );
        assert_eq!(
            asks_for_person("a  Real-person please", &words),
            Some("real person")
        );
        assert_eq!(
            asks_for_person("позовите оператора", &words),
            None,
            "a word form is another word"
        );
        assert_eq!(asks_for_person("дайте оператор", &words), Some("Оператор"));
        assert_eq!(asks_for_person("the cooperator", &words), None);
        assert_eq!(asks_for_person("", &words), None);
    }

    #[test]
    fn the_marker_hands_over_with_its_reason() {
        assert_eq!(
            parse_marker("[[HANDOVER]] refund question"),
            (Some("refund question".into()), String::new())
        );
        assert_eq!(
            parse_marker("Sorry. [[HANDOVER]]: needs a person"),
            (Some("needs a person".into()), "Sorry.".into())
        );
        assert_eq!(parse_marker(" Fine. "), (None, "Fine.".into()));
    }
}
