//! The reliability proof (issue 7): crash safety, a full disk, hostile HTTP. Each module is
//! described in RELIABILITY.md with how to run it and its last result.

pub mod diskfull;
