//! One integration-test binary (one link step): each folder is a feature, `support` holds the
//! harness that runs the real server in-process over real TLS on 127.0.0.1:0.

mod channels;
mod foundation;
mod inbox;
mod reliability;
mod search;
mod security;
mod support;
