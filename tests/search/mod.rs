//! Search and segmentation over the real index: type-ahead examples, freshness, rebuild,
//! crash catch-up, filters, saved filters, message search and hostile input.

mod filters;
mod text;
