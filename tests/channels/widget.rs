//! widget channel tests.
