//! Index schemas, analyzers and the normal forms text is indexed and queried in. Tokenizers
//! are not stored in the index, so `open` registers them every time.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, NgramTokenizer, RawTokenizer, RemoveLongFilter,
    SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, TantivyDocument};

use crate::domain::filter::fold_value;
use crate::domain::inbox::{Chat, Contact, Message};
use crate::error::{Error, Result};

/// Bump when fields or analyzers change: an index of another version is rebuilt at start.
pub const CONTACTS_VERSION: u32 = 4;
pub const MESSAGES_VERSION: u32 = 1;
/// Longest prefix indexed for names and e-mails; longer query words are cut to it.
pub const MAX_GRAM: usize = 24;

/// Lowercase, fold ё→е (Russian writes both), drop characters other than letters, digits and
/// the ones e-mails need. Diacritics are folded later by the analyzer (José → jose).
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ё' => 'е',
            c => c,
        })
        .collect()
}

pub fn words(s: &str) -> Vec<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(MAX_GRAM).collect())
        .collect()
}

/// Words written with punctuation inside ("o'brien", "jean-luc", "zoe.obrien") joined into
/// one ("obrien", "jeanluc", "zoeobrien"), so the name is found as it is said as well as by
/// each part.
pub fn joined_words(s: &str) -> Vec<String> {
    fold(s)
        .split_whitespace()
        .filter_map(|w| {
            let parts = w
                .split(|c: char| !c.is_alphanumeric())
                .filter(|p| !p.is_empty());
            if parts.count() < 2 {
                return None;
            }
            let j: String = w
                .chars()
                .filter(|c| c.is_alphanumeric())
                .take(MAX_GRAM)
                .collect();
            Some(j)
        })
        .collect()
}

/// The whole of what is compared for an exact match: folded, single-spaced.
pub fn exact_form(s: &str) -> String {
    fold(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text(tokenizer: &str, positions: bool) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(if positions {
                IndexRecordOption::WithFreqsAndPositions
            } else {
                IndexRecordOption::Basic
            }),
    )
}

pub fn register(index: &Index) -> Result<()> {
    let tm = index.tokenizers();
    let err = |e: tantivy::TantivyError| Error::Internal(format!("search tokenizer: {e}"));
    tm.register(
        "cname",
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(64))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
    tm.register(
        "edge",
        TextAnalyzer::builder(NgramTokenizer::prefix_only(1, MAX_GRAM).map_err(err)?)
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
    tm.register(
        "edge_fold",
        TextAnalyzer::builder(NgramTokenizer::prefix_only(1, 64).map_err(err)?)
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
    tm.register(
        "edge_long",
        TextAnalyzer::builder(NgramTokenizer::prefix_only(1, 64).map_err(err)?).build(),
    );
    tm.register(
        "digits_ng",
        TextAnalyzer::builder(NgramTokenizer::all_ngrams(3, 15).map_err(err)?).build(),
    );
    tm.register(
        "exact",
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    );
    tm.register(
        "raw",
        TextAnalyzer::builder(RawTokenizer::default()).build(),
    );
    Ok(())
}

#[derive(Clone, Copy)]
pub struct ContactFields {
    pub id: Field,
    pub name: Field,
    /// The starts of the name's words and of the e-mails (whole, their parts, the domain) in
    /// one field, so a type-ahead prefix is one posting list instead of a union of two.
    pub pfx: Field,
    pub phone_ng: Field,
    /// The full name, each phone and each e-mail whole: an exact match ranks first.
    pub exact: Field,
    pub tags: Field,
    pub channels: Field,
    pub kinds: Field,
    pub plan: Field,
    pub cf_eq: Field,
    pub cf_pfx: Field,
    pub cf_keys: Field,
    pub flags: Field,
    pub assignees: Field,
    pub created: Field,
    pub activity: Field,
}

pub fn contacts_schema() -> (Schema, ContactFields) {
    let mut sb = Schema::builder();
    let f = ContactFields {
        id: sb.add_u64_field("id", INDEXED | STORED | FAST),
        name: sb.add_text_field("name", text("cname", true)),
        pfx: sb.add_text_field("pfx", text("edge_fold", false)),
        phone_ng: sb.add_text_field("phone_ng", text("digits_ng", false)),
        exact: sb.add_text_field("exact", text("exact", false)),
        tags: sb.add_text_field("tags", STRING),
        channels: sb.add_text_field("channels", STRING),
        kinds: sb.add_text_field("kinds", STRING),
        plan: sb.add_text_field("plan", STRING),
        cf_eq: sb.add_text_field("cf_eq", STRING),
        cf_pfx: sb.add_text_field("cf_pfx", text("edge_long", false)),
        cf_keys: sb.add_text_field("cf_keys", STRING),
        flags: sb.add_text_field("flags", STRING),
        assignees: sb.add_u64_field("assignees", INDEXED),
        created: sb.add_i64_field("created", INDEXED | FAST),
        activity: sb.add_i64_field("activity", INDEXED | FAST),
    };
    (sb.build(), f)
}

/// The flag of a contact outside the "all" section.
pub const NOT_ALL: &str = "s:-all";

/// Separates a custom field's name from its value inside one indexed term.
pub const SEP: char = '\u{1f}';

/// Everything about a contact the list can be searched or filtered by.
pub fn contact_doc(
    f: &ContactFields,
    c: &Contact,
    chats: &[Chat],
    sections: &[&str],
) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_u64(f.id, c.id);
    d.add_text(f.name, fold(&c.name));
    for w in words(&c.name) {
        d.add_text(f.pfx, &w);
    }
    for j in joined_words(&c.name) {
        d.add_text(f.name, &j);
        d.add_text(f.pfx, &j);
    }
    let name = exact_form(&c.name);
    if !name.is_empty() {
        d.add_text(f.exact, &name);
    }
    for p in &c.phones {
        d.add_text(f.phone_ng, p);
        d.add_text(f.exact, p);
    }
    for e in &c.emails {
        let e = fold(e);
        if let Some((local, domain)) = e.split_once('@') {
            d.add_text(f.pfx, domain);
            // Each part of the local part is found from its start ("obrien" in
            // zoe.obrien@…), and so is the local part without its punctuation.
            let parts = words(local);
            if parts.len() > 1 {
                for p in parts.iter().skip(1) {
                    d.add_text(f.pfx, p);
                }
                d.add_text(f.pfx, parts.concat());
            }
        }
        d.add_text(f.exact, &e);
        d.add_text(f.pfx, &e);
    }
    for t in &c.tags {
        d.add_text(f.tags, fold_value(t));
    }
    for ch in chats {
        d.add_text(f.channels, fold_value(&ch.channel_id));
        d.add_text(f.kinds, &ch.channel_kind);
    }
    if let Some(p) = c
        .sales_plan
        .as_deref()
        .map(fold_value)
        .filter(|p| !p.is_empty())
    {
        d.add_text(f.plan, p);
        d.add_text(f.flags, "has_plan");
    }
    for (k, v) in &c.custom_fields {
        let (k, v) = (fold_value(k), fold_value(v));
        if v.is_empty() {
            continue;
        }
        d.add_text(f.cf_keys, &k);
        d.add_text(f.cf_eq, format!("{k}{SEP}{v}"));
        for w in words(&v) {
            d.add_text(
                f.cf_pfx,
                format!("{}{SEP}{w}", k.chars().take(32).collect::<String>()),
            );
        }
    }
    let mut flag = |on: bool, name: &str| {
        if on {
            d.add_text(f.flags, name);
        }
    };
    flag(c.archived, "archived");
    flag(c.blacklisted, "blacklisted");
    flag(c.open_tasks > 0, "open_task");
    flag(c.unread > 0, "unread");
    flag(!c.phones.is_empty(), "has_phone");
    flag(!c.emails.is_empty(), "has_email");
    flag(c.assignee.is_some(), "assigned");
    for s in sections {
        d.add_text(f.flags, format!("s:{s}"));
    }
    if !sections.contains(&"all") {
        // "All" holds nearly everyone: its list excludes the few outside it rather than
        // intersecting every search with a million-entry posting list.
        d.add_text(f.flags, NOT_ALL);
    }
    if let Some(a) = c.assignee {
        d.add_u64(f.assignees, a);
    }
    d.add_i64(f.created, c.created_ms);
    d.add_i64(f.activity, c.last_activity_ms);
    d
}

#[derive(Clone, Copy)]
pub struct MessageFields {
    pub id: Field,
    pub chat: Field,
    pub contact: Field,
    pub kind: Field,
    pub text: Field,
    /// The original text, for results and highlighting (the indexed copy is folded).
    pub body: Field,
    pub created: Field,
}

pub fn messages_schema() -> (Schema, MessageFields) {
    let mut sb = Schema::builder();
    let f = MessageFields {
        id: sb.add_u64_field("id", INDEXED | STORED | FAST),
        chat: sb.add_u64_field("chat", INDEXED | STORED | FAST),
        contact: sb.add_u64_field("contact", STORED),
        kind: sb.add_text_field("kind", STRING | STORED),
        text: sb.add_text_field("text", text("cname", false)),
        body: sb.add_text_field("body", STORED),
        created: sb.add_i64_field("created", INDEXED | FAST | STORED),
    };
    (sb.build(), f)
}

pub fn message_doc(f: &MessageFields, m: &Message, contact_id: u64) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_u64(f.id, m.id);
    d.add_u64(f.chat, m.chat_id);
    d.add_u64(f.contact, contact_id);
    d.add_text(f.kind, m.kind.as_str());
    d.add_text(f.text, fold(&m.text));
    d.add_text(f.body, &m.text);
    d.add_i64(f.created, m.created_ms);
    d
}

/// Messages whose text is worth searching.
pub fn searchable(m: &Message) -> bool {
    !m.text.trim().is_empty() && m.kind != crate::domain::inbox::Kind::System
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold("Алёна"), "алена");
        assert_eq!(
            words("Anna-Maria  Kuznetsova!"),
            ["anna", "maria", "kuznetsova"]
        );
    }
}
