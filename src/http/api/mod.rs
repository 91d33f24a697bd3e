//! REST resources under `/api/v1`, one file per resource.

pub mod audience;
pub mod broadcasts;
pub mod chats;
pub mod contacts;
pub mod dialogs;
pub mod docs;
pub mod files;
pub mod filters;
pub mod funnels;
pub mod managers;
pub mod notifications;
pub mod orders;
pub mod plans;
pub mod replies;
pub mod reports;
pub mod search;
pub mod session;
pub mod settings;
pub mod tasks;
pub mod templates;
pub mod tokens;
