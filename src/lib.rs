//! Parley: a self-hosted omnichannel chat inbox in one binary. See DESIGN.md for the shape;
//! `main.rs` only parses the command line and calls into here.

pub mod accounts;
pub mod app;
pub mod automation;
pub mod channels;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
/// Entry points for the fuzz targets and their corpus replay test; not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod inbox;
pub mod realtime;
pub mod search;
pub mod store;
pub mod sys;
pub mod tls;

pub use error::{Error, Result};

/// rustls needs exactly one process-wide crypto provider; poem's listener signs with
/// aws-lc-rs, so install that one before anything touches TLS.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
