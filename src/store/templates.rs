//! Chat templates made in the UI (A3), by lowercased name so two cannot differ only in case.

use super::tables::TEMPLATES;
use super::{Key, Read, Record, W, codec};
use crate::domain::inbox::Template;
use crate::error::Result;

impl Record for Template {
    const NAME: &'static str = "template";
}

fn key(name: &str) -> Vec<u8> {
    Key::new().str(&name.to_lowercase()).build()
}

pub fn template<T: Read>(r: &T, name: &str) -> Result<Option<Template>> {
    r.get(TEMPLATES, &key(name))
}

/// Every stored template, by name.
pub fn templates<T: Read>(r: &T) -> Result<Vec<Template>> {
    let rows = r.scan(TEMPLATES, &[], None, false, 10_000)?;
    rows.iter().map(|(_, v)| codec::decode(v)).collect()
}

pub fn put_template(w: &W, t: &Template) -> Result<()> {
    w.put(TEMPLATES, &key(&t.name), t)
}

pub fn delete_template(w: &W, name: &str) -> Result<bool> {
    w.del(TEMPLATES, &key(name))
}
