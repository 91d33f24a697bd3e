//! viber channel tests.
