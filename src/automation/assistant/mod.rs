//! The AI assistant's worker (B2): takes the answers chats are owed as they come due, asks
//! the assistant's endpoint outside any transaction, and hands what came back to the inbox
//! (`Inbox::assistant_done`). Like the funnel scheduler it holds nothing of its own: what
//! is owed lives in the store (`ASSISTANT_DUE`), so a restart loses no answer. Also makes
//! the suggested replies managers ask for, which change nothing but the usage counters.

pub mod client;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::AssistantConfig;
use crate::domain::assistant::Outcome;
use crate::domain::now_ms;
use crate::error::{Error, Result};
use crate::inbox::Inbox;
use crate::inbox::assistant::AssistantCall;
use crate::search::knowledge::{self, Knowledge};

/// Owed answers read per round.
const BATCH: usize = 500;
/// Answers leased at once: their transactions share group commits.
const PARALLEL: usize = 32;
/// Requests in flight at once; a slow endpoint cannot hold more tasks and sockets than this.
const IN_FLIGHT: usize = 1024;
/// The longest sleep, so a clock jump or a missed wake-up costs at most this much.
const MAX_SLEEP: Duration = Duration::from_secs(5);
/// Longest passage cut from a knowledge file (characters).
const PASSAGE_CHARS: usize = 800;

/// One configured assistant with its knowledge.
pub struct Assistant {
    pub config: AssistantConfig,
    pub knowledge: Knowledge,
}

/// Every configured assistant, the HTTP client they share and the in-flight limit.
pub struct Assistants {
    by_id: HashMap<String, Arc<Assistant>>,
    http: reqwest::Client,
    slots: Arc<Semaphore>,
}

impl Assistants {
    /// Read and index each assistant's knowledge files; errors name the file and the key.
    pub fn load(configs: &[AssistantConfig]) -> Result<Assistants> {
        let mut by_id = HashMap::new();
        for (i, c) in configs.iter().enumerate() {
            let mut passages = Vec::new();
            for (k, path) in c.knowledge.iter().enumerate() {
                let bytes = std::fs::read(path).map_err(|e| {
                    Error::Config(format!(
                        "assistants[{i}].knowledge[{k}]: cannot read {}: {e}",
                        path.display()
                    ))
                })?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                passages.extend(knowledge::split(
                    &name,
                    &String::from_utf8_lossy(&bytes),
                    PASSAGE_CHARS,
                ));
            }
            let n = passages.len();
            let knowledge = Knowledge::build(passages)?;
            if n > 0 {
                tracing::info!(assistant = %c.id, passages = n, "assistant knowledge indexed");
            }
            by_id.insert(
                c.id.clone(),
                Arc::new(Assistant {
                    config: c.clone(),
                    knowledge,
                }),
            );
        }
        Ok(Assistants {
            by_id,
            // The endpoint is the admin's choice, a local server included: no SSRF rules here.
            http: crate::channels::http_client_builder()?
                .pool_max_idle_per_host(64)
                .build()
                .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?,
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
        })
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Assistant>> {
        self.by_id.get(id)
    }

    /// Make the request for `call`: knowledge passages for the client's words, then the
    /// endpoint. Never fails: a failure is an `Outcome::Failed` with its reason.
    pub async fn ask(&self, call: &AssistantCall, suggest: bool) -> Outcome {
        let Some(a) = self.get(&call.assistant) else {
            return Outcome::Failed {
                reason: format!("the assistant {:?} is not configured", call.assistant),
                retry_after_ms: None,
                retry: false,
                tokens: Default::default(),
            };
        };
        let passages = a
            .knowledge
            .find(&call.query, a.config.passages)
            .unwrap_or_else(|e| {
                tracing::warn!(assistant = %a.config.id, "knowledge search: {e}");
                Vec::new()
            });
        let body = client::body(&a.config, &call.history, &passages, suggest);
        client::call(&self.http, &a.config, &body).await
    }

    /// A suggested reply for a manager: the chat's assistant (on or off) proposes the next
    /// message; nothing is sent or stored but the usage.
    pub async fn suggest(&self, inbox: &Inbox, chat_id: u64) -> Result<String> {
        let call = inbox.suggestion_call(chat_id).await?;
        let out = self.ask(&call, true).await;
        let (tokens, error) = match &out {
            Outcome::Reply { tokens, .. } | Outcome::HandOver { tokens, .. } => (*tokens, None),
            Outcome::Failed { tokens, reason, .. } => (*tokens, Some(reason.clone())),
        };
        if let Err(e) = inbox
            .assistant_usage(chat_id, call.assistant.clone(), tokens, error)
            .await
        {
            tracing::warn!(chat_id, "assistant usage: {e}");
        }
        match out {
            Outcome::Reply { text, .. } => Ok(text),
            // The model would hand over: suggest telling the client a person is coming.
            Outcome::HandOver { .. } => Ok(self
                .get(&call.assistant)
                .map(|a| a.config.handover_reply.clone())
                .unwrap_or_default()),
            Outcome::Failed { reason, .. } => Err(Error::Upstream(format!(
                "the AI assistant did not answer: {reason}"
            ))),
        }
    }
}

/// Answer chats as their answers come due, until the server stops.
pub async fn run(inbox: Inbox, ai: Arc<Assistants>, mut stop: watch::Receiver<bool>) {
    loop {
        let now = now_ms();
        let due = match inbox.due_assistant_chats(now, BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("assistant: cannot read owed answers: {e}");
                Vec::new()
            }
        };
        let full = due.len() == BATCH;
        let mut takes = JoinSet::new();
        let mut failed = 0;
        for chat_id in due {
            while takes.len() >= PARALLEL {
                if let Some(Ok(false)) = takes.join_next().await {
                    failed += 1;
                }
            }
            let Ok(slot) = ai.slots.clone().acquire_owned().await else {
                return;
            };
            let (inbox, ai) = (inbox.clone(), ai.clone());
            takes.spawn(async move {
                let call = match inbox.take_assistant_call(chat_id).await {
                    Ok(Some(c)) => c,
                    Ok(None) => return true,
                    Err(e) => {
                        tracing::warn!(chat_id, "assistant: cannot take the answer: {e}");
                        return false;
                    }
                };
                // The request runs on its own; the round goes on leasing the next answers.
                tokio::spawn(async move {
                    let _slot = slot;
                    let out = ai.ask(&call, false).await;
                    if let Outcome::Failed { reason, .. } = &out {
                        tracing::info!(chat_id, assistant = %call.assistant, "assistant request failed: {reason}");
                    }
                    if let Err(e) = inbox.assistant_done(&call, out).await {
                        // The lease runs out and the answer is tried again.
                        tracing::warn!(chat_id, "assistant: cannot record the answer: {e}");
                    }
                });
                true
            });
        }
        while let Some(r) = takes.join_next().await {
            failed += usize::from(matches!(r, Ok(false)));
        }
        if failed > 0 {
            // The store refuses writes: do not spin on the same rows.
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        if full {
            continue;
        }
        let wait = match inbox.next_assistant_due().await {
            Ok(Some(at)) => Duration::from_millis((at - now_ms()).clamp(0, 5_000) as u64),
            _ => MAX_SLEEP,
        };
        if wait.is_zero() {
            // Leased answers are due later than now, so this is a new one: take it at once.
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = inbox.assistant_wake.notified() => {}
            _ = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
            _ = stop.changed() => return,
        }
    }
}
