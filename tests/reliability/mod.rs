//! Reliability proofs (issue 7): each module is one suite of RELIABILITY.md.

pub mod crash;
pub mod diskfull;
pub mod funnel_crash;
pub mod fuzz_corpus;
pub mod hostile;
