//! Issue 7: crash, fault and attack suites.

pub mod hostile;
