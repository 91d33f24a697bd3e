//! Plain types and rules, no I/O.

pub mod event;
pub mod filter;
pub mod inbox;
pub mod manager;
pub mod normalise;
