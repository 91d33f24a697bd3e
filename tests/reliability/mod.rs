//! Issue 7's reliability proof: each module is one suite described in RELIABILITY.md.

pub mod fuzz_corpus;
