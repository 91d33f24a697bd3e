//! Plain types and rules, no I/O.

pub mod assistant;
pub mod automation;
pub mod broadcast;
pub mod csv;
pub mod event;
pub mod filter;
pub mod hours;
pub mod inbox;
pub mod job;
pub mod manager;
pub mod normalise;
pub mod order;
pub mod report;

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before it). A rule about
/// time (a link's expiry) needs the time without needing the store.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
