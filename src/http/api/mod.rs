//! REST resources under `/api/v1`, one file per resource.

pub mod chats;
pub mod contacts;
pub mod docs;
pub mod files;
pub mod managers;
pub mod search;
pub mod session;
pub mod settings;
pub mod tokens;
