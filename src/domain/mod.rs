//! Plain types and rules, no I/O.

pub mod manager;
