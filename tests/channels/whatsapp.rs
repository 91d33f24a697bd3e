//! whatsapp channel tests.
