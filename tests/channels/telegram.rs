//! telegram channel tests.
