//! Bot API calls: `POST {api_base}/bot{token}/{method}`, the `{"ok", "result"}` envelope,
//! and its error answers (`error_code`, `description`, `parameters.retry_after`) mapped to
//! send outcomes. The token is in every URL, so every error text is cleaned of it here.

use std::time::Duration;

use serde_json::Value;

use super::Bot;
use crate::channels::{Ctx, SendError};

/// A Bot API error answer: `{"ok":false,"error_code","description","parameters"}`.
#[derive(Debug)]
pub(super) struct ApiError {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u64>,
}

pub(super) enum CallError {
    Api(ApiError),
    Transport(String),
}

impl CallError {
    pub(super) fn into_send_error(self, ctx: &Ctx, bot: &Bot) -> SendError {
        match self {
            CallError::Transport(reason) => SendError::Retry {
                reason,
                after: None,
            },
            CallError::Api(e) => {
                let reason = format!("Telegram {}: {}", e.code, e.description);
                match e.code {
                    429 => {
                        // The whole bot is throttled, not just this chat.
                        let wait = Duration::from_secs(e.retry_after.unwrap_or(5));
                        ctx.states().pause(bot.id, wait);
                        SendError::Retry {
                            reason,
                            after: Some(wait),
                        }
                    }
                    403 => SendError::Unreachable(reason),
                    401 | 404 => {
                        ctx.states()
                            .error(bot.id, format!("the bot token was rejected ({reason})"));
                        SendError::Permanent(reason)
                    }
                    c if c >= 500 => SendError::Retry {
                        reason,
                        after: None,
                    },
                    _ => SendError::Permanent(reason),
                }
            }
        }
    }
}

pub(super) async fn call_with(
    bot: &Bot<'_>,
    method: &str,
    req: reqwest::RequestBuilder,
) -> std::result::Result<Value, CallError> {
    let r = req.send().await.map_err(|e| {
        CallError::Transport(bot.clean(&format!("Telegram {method}: {}", e.without_url())))
    })?;
    let status = r.status().as_u16();
    let text = r
        .text()
        .await
        .map_err(|e| CallError::Transport(bot.clean(&format!("Telegram {method}: {e}"))))?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if body["ok"].as_bool() == Some(true) {
        return Ok(body["result"].clone());
    }
    Err(CallError::Api(ApiError {
        code: body["error_code"]
            .as_u64()
            .map(|c| c as u16)
            .unwrap_or(status),
        description: bot.clean(
            body["description"]
                .as_str()
                .unwrap_or("no description (the answer was not Bot API JSON)"),
        ),
        retry_after: body["parameters"]["retry_after"].as_u64(),
    }))
}

pub(super) async fn call(
    ctx: &Ctx,
    bot: &Bot<'_>,
    method: &str,
    params: Value,
) -> std::result::Result<Value, CallError> {
    let req = ctx.http.post(bot.method_url(method)).json(&params);
    call_with(bot, method, req).await
}
