//! REST resources under `/api/v1`, one file per resource.

pub mod managers;
pub mod session;
