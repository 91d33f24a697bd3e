//! A fake OpenAI-compatible server: `POST /v1/chat/completions` answered in the documented
//! format (`choices[].message.content` or `tool_calls`, `usage`), with scripted errors and
//! slow answers through `Fake::inject`; every request body is kept for assertions.

use serde_json::{Value, json};

use super::fake::{Fake, Reply};

pub struct Llm {
    pub fake: Fake,
}

/// A chat-completions answer with `text` and a token count.
pub fn answer(text: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}
        }),
    )
}

/// An answer that calls the tool `name` with `args` (a JSON object, sent encoded as a
/// string as OpenAI does).
pub fn tool_call(name: &str, args: Value) -> Reply {
    Reply::json(
        200,
        json!({
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": name, "arguments": args.to_string()}}]}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 7}
        }),
    )
}

/// An error in OpenAI's shape.
pub fn error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {"message": message, "type": "server_error"}}),
    )
}

impl Llm {
    /// Answers every request with `text` unless a reply was injected.
    pub async fn start(text: &str) -> Llm {
        let text = text.to_string();
        let fake = Fake::with_handler(std::sync::Arc::new(move |r| {
            if r.method == "POST" && r.path.ends_with("/v1/chat/completions") {
                answer(&text)
            } else {
                error(404, "not found")
            }
        }))
        .await;
        Llm { fake }
    }

    /// The API base to put in `[[assistants]] url`.
    pub fn base(&self) -> String {
        self.fake.url("/v1")
    }

    /// Queue `reply` for the next completion request.
    pub fn then(&self, reply: Reply) {
        self.fake.inject(Some("/chat/completions"), reply);
    }

    /// The bodies of the completion requests so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/chat/completions"))
            .map(|r| r.json())
            .collect()
    }

    /// Wait until at least `n` completion requests came (at most `secs`).
    pub async fn wait(&self, n: usize, secs: u64) -> Vec<Value> {
        self.fake
            .wait_for(secs, |r| {
                r.iter()
                    .filter(|x| x.path.ends_with("/chat/completions"))
                    .count()
                    >= n
            })
            .await;
        self.bodies()
    }
}

/// `(role, content)` of a request body's messages.
pub fn messages(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["role"].as_str().unwrap_or("").to_string(),
                        m["content"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An `[[assistants]]` entry named `helper` on `base`, plus `extra` keys (a quiet period
/// of 300 ms unless `extra` sets one).
pub fn assistant_toml(base: &str, extra: &str) -> String {
    let quiet = if extra.contains("quiet_ms") {
        ""
    } else {
        "quiet_ms = 300\n"
    };
    format!(
        "[[assistants]]\nid = \"helper\"\nname = \"Helper\"\nurl = \"{base}\"\napi_key = \"{KEY}\"\nmodel = \"test-model\"\ninstructions = \"You are the shop's helper.\"\n{quiet}{extra}\n"
    )
}

/// The key the tests give the assistant; it must never come back out.
pub const KEY: &str = "sk-test-9b1f3c5d7e0a2468ace";
