//! One request to an OpenAI-compatible `/chat/completions` endpoint and what it came to.
//! The wire format is the documented one (`messages`, `tools`, `choices[].message.content`
//! / `tool_calls`, `usage`), which OpenAI, OpenRouter, llama.cpp's server, Ollama and vLLM
//! all speak. Every text that leaves here (a failure's reason) has the API key scrubbed.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::AssistantConfig;
use crate::domain::assistant::{self as ai, Outcome, Speaker, Tokens, Turn};
use crate::domain::inbox::MAX_MESSAGE_TEXT;
use crate::search::knowledge::Passage;

/// The largest response body read; a bigger one is a failure, not a memory spike.
const MAX_BODY: usize = 1 << 20;

/// What the model is told besides the admin's instructions.
const DEFAULT_INSTRUCTIONS: &str = "You are the business's assistant in a chat with a client. \
Answer briefly and politely, in the client's language.";

/// The request body for `history` with `passages`; `suggest` asks for a manager's draft.
pub fn body(
    cfg: &AssistantConfig,
    history: &[Turn],
    passages: &[&Passage],
    suggest: bool,
) -> Value {
    let mut system = cfg
        .instructions
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_INSTRUCTIONS.to_string());
    system.push_str("\n\nIf you cannot help, or the client needs a person, ");
    if cfg.tools {
        system.push_str(&format!("call the tool {} or ", ai::HANDOVER_TOOL));
    }
    system.push_str(&format!(
        "answer with {} followed by a short reason.",
        ai::HANDOVER_MARKER
    ));
    let mut messages = vec![json!({"role": "system", "content": system})];
    if !passages.is_empty() {
        let mut k = String::from(
            "Passages from the business's knowledge base; use them when they answer the client:\n",
        );
        for (i, p) in passages.iter().enumerate() {
            k.push_str(&format!("\n[{}] {}\n{}\n", i + 1, p.title, p.text));
        }
        messages.push(json!({"role": "system", "content": k}));
    }
    for t in history {
        let role = match t.speaker {
            Speaker::User => "user",
            Speaker::Assistant => "assistant",
        };
        messages.push(json!({"role": role, "content": t.text}));
    }
    if suggest {
        messages.push(json!({"role": "system", "content":
            "Write the next message the business should send to the client. Answer with the message text only."}));
    }
    let mut b = json!({"model": cfg.model, "messages": messages, "stream": false});
    if cfg.tools {
        b["tools"] = json!([{
            "type": "function",
            "function": {
                "name": ai::HANDOVER_TOOL,
                "description": "Hand the conversation over to a human colleague when you cannot help or the client asks for a person.",
                "parameters": {
                    "type": "object",
                    "properties": {"reason": {"type": "string", "description": "Why a person is needed, in a few words."}},
                    "required": ["reason"]
                }
            }
        }]);
    }
    if let Some(n) = cfg.max_tokens {
        b["max_tokens"] = json!(n);
    }
    b
}

#[derive(Deserialize)]
struct Resp {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<UsageW>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<Msg>,
}

#[derive(Deserialize)]
struct Msg {
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Vec<ToolCall>,
}

#[derive(Deserialize)]
struct ToolCall {
    function: Option<Func>,
}

#[derive(Deserialize)]
struct Func {
    name: String,
    #[serde(default)]
    arguments: Option<Value>,
}

#[derive(Deserialize, Default)]
struct UsageW {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// Text content as a string or as an array of `{"type": "text", "text"}` parts.
fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// What a 2xx body says: an answer, a hand-over (tool call or marker), or why it is unusable.
pub fn parse(bytes: &[u8]) -> Outcome {
    let failed = |reason: String, tokens| Outcome::Failed {
        reason,
        retry_after_ms: None,
        retry: true,
        tokens,
    };
    let resp: Resp = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) => {
            return failed(
                format!("the answer is not chat-completions JSON ({e})"),
                Tokens::default(),
            );
        }
    };
    let u = resp.usage.unwrap_or_default();
    let tokens = Tokens {
        prompt: u.prompt_tokens,
        completion: u.completion_tokens,
    };
    let Some(msg) = resp.choices.into_iter().next().and_then(|c| c.message) else {
        return failed("the answer has no choices".into(), tokens);
    };
    if let Some(f) = msg
        .tool_calls
        .iter()
        .filter_map(|t| t.function.as_ref())
        .find(|f| f.name == ai::HANDOVER_TOOL)
    {
        // Arguments are a JSON object encoded as a string; some servers send the object.
        let args = match &f.arguments {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let reason = args
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(300)
            .collect::<String>();
        return Outcome::HandOver {
            reason: reason.trim().to_string(),
            tokens,
        };
    }
    let text = msg.content.as_ref().map(content_text).unwrap_or_default();
    let (handover, text) = ai::parse_marker(&text);
    if let Some(reason) = handover {
        return Outcome::HandOver {
            reason: reason.chars().take(300).collect(),
            tokens,
        };
    }
    if text.is_empty() {
        return failed("the answer was empty".into(), tokens);
    }
    if text.len() > MAX_MESSAGE_TEXT {
        return failed(
            format!(
                "the answer is too long ({} bytes; a message holds at most {MAX_MESSAGE_TEXT})",
                text.len()
            ),
            tokens,
        );
    }
    Outcome::Reply { text, tokens }
}

/// Seconds of a Retry-After header (the HTTP-date form is rare from APIs and ignored).
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<i64> {
    h.get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0) as i64)
}

/// The endpoint's own error text (`{"error": {"message"}}` or `{"error": "…"}`), short.
fn error_text(bytes: &[u8]) -> String {
    let v: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let m = v
        .pointer("/error/message")
        .or_else(|| v.get("error"))
        .or_else(|| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    let m = m.split_whitespace().collect::<Vec<_>>().join(" ");
    m.chars().take(200).collect()
}

/// `text` with the key, and anything shaped like a provider key, replaced.
pub fn scrub(text: &str, key: Option<&str>) -> String {
    let mut t = text.to_string();
    if let Some(k) = key.filter(|k| k.len() >= 4) {
        t = t.replace(k, "<api key>");
    }
    t.split(' ')
        .map(|w| {
            if w.starts_with("sk-") && w.len() > 8 {
                "sk-…"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// POST `body` to the assistant's endpoint and read what came back, within `cfg.timeout`.
pub async fn call(http: &reqwest::Client, cfg: &AssistantConfig, body: &Value) -> Outcome {
    let out = call_inner(http, cfg, body).await;
    match out {
        Outcome::Failed {
            reason,
            retry_after_ms,
            retry,
            tokens,
        } => Outcome::Failed {
            reason: scrub(&reason, cfg.api_key.as_deref()),
            retry_after_ms,
            retry,
            tokens,
        },
        other => other,
    }
}

async fn call_inner(http: &reqwest::Client, cfg: &AssistantConfig, body: &Value) -> Outcome {
    let failed = |reason: String, retry: bool, after: Option<i64>| Outcome::Failed {
        reason,
        retry_after_ms: after,
        retry,
        tokens: Tokens::default(),
    };
    let timeout = Duration::from_secs(cfg.timeout);
    let mut rb = http
        .post(cfg.endpoint())
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(k) = &cfg.api_key {
        rb = rb.bearer_auth(k);
    }
    let host = reqwest::Url::parse(&cfg.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let mut resp = match rb.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return failed(format!("no answer within {} s", cfg.timeout), true, None);
        }
        Err(e) => {
            let e = e.without_url();
            let why = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.to_string());
            return failed(format!("cannot reach {host}: {why}"), true, None);
        }
    };
    let status = resp.status().as_u16();
    let after = retry_after(resp.headers());
    let mut bytes = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if bytes.len() + c.len() > MAX_BODY {
                    return failed(
                        format!("the answer is larger than {} KiB", MAX_BODY / 1024),
                        true,
                        None,
                    );
                }
                bytes.extend_from_slice(&c);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return failed(format!("no answer within {} s", cfg.timeout), true, None);
            }
            Err(e) => {
                return failed(
                    format!("the answer broke off: {}", e.without_url()),
                    true,
                    None,
                );
            }
        }
    }
    match status {
        200..=299 => parse(&bytes),
        429 => failed(
            format!("rate limited (429): {}", error_text(&bytes)),
            true,
            after,
        ),
        500..=599 => failed(
            format!("the endpoint answered {status}: {}", error_text(&bytes)),
            true,
            after,
        ),
        // Wrong key, model or URL: the same request fails the same way again.
        _ => failed(
            format!("the endpoint answered {status}: {}", error_text(&bytes)),
            false,
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_tool_calls_markers_and_empties() {
        let r = parse(br#"{"choices":[{"message":{"role":"assistant","content":"Hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":3}}"#);
        assert!(
            matches!(r, Outcome::Reply { ref text, tokens } if text == "Hi" && tokens.prompt == 12 && tokens.completion == 3)
        );
        let r = parse(br#"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"hand_over_to_human","arguments":"{\"reason\":\"refund\"}"}}]}}]}"#);
        assert!(matches!(r, Outcome::HandOver { ref reason, .. } if reason == "refund"));
        let r = parse(br#"{"choices":[{"message":{"content":"[[HANDOVER]] legal question"}}]}"#);
        assert!(matches!(r, Outcome::HandOver { ref reason, .. } if reason == "legal question"));
        let r = parse(br#"{"choices":[{"message":{"content":[{"type":"text","text":"A"},{"type":"text","text":"B"}]}}]}"#);
        assert!(matches!(r, Outcome::Reply { ref text, .. } if text == "AB"));
        for bad in [
            &br#"{"choices":[{"message":{"content":"  "}}]}"#[..],
            b"{}",
            b"nope",
        ] {
            assert!(matches!(parse(bad), Outcome::Failed { retry: true, .. }));
        }
        let long = format!(
            r#"{{"choices":[{{"message":{{"content":"{}"}}}}]}}"#,
            "a".repeat(MAX_MESSAGE_TEXT + 1)
        );
        assert!(
            matches!(parse(long.as_bytes()), Outcome::Failed { ref reason, .. } if reason.contains("too long"))
        );
    }

    #[test]
    fn keys_never_leave_in_reasons() {
        assert_eq!(
            scrub(
                "Incorrect API key provided: sk-abc123456789",
                Some("zzz-key-1")
            ),
            "Incorrect API key provided: sk-…"
        );
        assert_eq!(
            scrub("echo my-secret-key!", Some("my-secret-key")),
            "echo <api key>!"
        );
    }
}
