//! Long jobs (a CSV import, a bulk action on many clients) as the store keeps them, so a
//! restart resumes a bulk action where its last committed batch left it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Running,
    Done,
    Failed(String),
}

/// What a bulk action does to each client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BulkAction {
    TagAdd(String),
    TagRemove(String),
    Archive(bool),
    Funnel(u64),
}

impl BulkAction {
    pub fn kind(&self) -> &'static str {
        match self {
            BulkAction::TagAdd(_) => "tag_add",
            BulkAction::TagRemove(_) => "tag_remove",
            BulkAction::Archive(true) => "archive",
            BulkAction::Archive(false) => "unarchive",
            BulkAction::Funnel(_) => "funnel",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub owner: u64,
    /// What it does ("import", "tag_add", …).
    pub kind: String,
    pub total: u64,
    pub done: u64,
    /// Items that could not be done (bad rows, clients gone meanwhile).
    pub failed: u64,
    pub state: JobState,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// The bulk action a restart resumes; None for an import (its rows are not kept).
    pub action: Option<BulkAction>,
}
