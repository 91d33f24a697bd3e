//! From what a person typed (and the filter they built) to index queries. User input never
//! reaches a query parser: it is split into words and each word becomes term queries, so
//! syntax characters, quotes and regex-looking text are just text.

use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, Occur,
    Query, RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::schema::{ContactFields, MAX_GRAM, MessageFields, SEP, exact_form, fold, words};
use crate::domain::filter::{Cond, Filter, TextOp, fold_value};
use crate::error::{Error, Result};

pub const MAX_QUERY_CHARS: usize = 200;
pub const MAX_WORDS: usize = 8;

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn boost(q: Box<dyn Query>, by: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(q, by))
}

// A single clause is returned as is: nested one-clause booleans cost a scorer level each and
// keep tantivy from its block-max top-k pruning on the common one-word query.
fn any(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    if qs.len() == 1 {
        return qs.remove(0);
    }
    Box::new(BooleanQuery::new(
        qs.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

fn all(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match qs.len() {
        0 => Box::new(AllQuery),
        1 => qs.remove(0),
        _ => Box::new(BooleanQuery::new(
            qs.into_iter().map(|q| (Occur::Must, q)).collect(),
        )),
    }
}

fn not(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(AllQuery)),
        (Occur::MustNot, q),
    ]))
}

pub fn check_length(q: &str) -> Result<()> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::BadRequest(format!(
            "search text is limited to {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(())
}

/// Phone-like input (digits with spaces, +, -, parentheses): the digits as the number is
/// stored, plus the international form of a national number written with the trunk 8.
fn phone_digits(q: &str) -> Option<Vec<String>> {
    let t = q.trim();
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return None;
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 3 {
        return None;
    }
    let digits: String = digits.chars().take(15).collect();
    let mut v = vec![digits.clone()];
    if let Some(rest) = digits.strip_prefix("00") {
        v.push(rest.to_string());
    }
    if !t.starts_with('+') && digits.starts_with('8') && digits.len() >= 4 {
        v.push(format!("7{}", &digits[1..]));
    }
    v.retain(|d| d.len() >= 3);
    Some(v)
}

/// How a match ranks. Scores are constants summed over the query's words (BM25 would favour
/// short names and rare words, which is not what a person typing a name expects); ties go to
/// the most recent activity (the collector's second key).
pub mod rank {
    /// The whole input is the client's full name, a phone or an e-mail.
    pub const EXACT: f32 = 1000.0;
    /// A whole word of the name.
    pub const WORD: f32 = 10.0;
    /// The start of a word of the name or of an e-mail (or its parts).
    pub const PREFIX: f32 = 4.0;
    /// Digits inside a phone number.
    pub const FRAGMENT: f32 = 1.0;
}

fn scored(q: Box<dyn Query>, score: f32) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(q, score))
}

/// Matches any; scores as the best of them (a word found in the name and the e-mail is not
/// a better match than one found as a whole word in the name alone).
fn best(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    if qs.len() == 1 {
        return qs.remove(0);
    }
    Box::new(DisjunctionMaxQuery::new(qs))
}

/// The type-ahead query over names, phones and e-mails. Each word must match somewhere: as
/// a whole name word, the start of a name word or an e-mail (part), or digits of a phone. A
/// word written with punctuation ("O'Brien") matches its parts or its joined form.
pub fn contact_text(f: &ContactFields, q: &str) -> Result<Option<Clauses>> {
    check_length(q)?;
    if q.trim().is_empty() {
        return Ok(None);
    }
    if let Some(numbers) = phone_digits(q) {
        let mut alts = Vec::new();
        for d in &numbers {
            alts.push(scored(term(f.exact, d), rank::EXACT));
            alts.push(scored(term(f.phone_ng, d), rank::FRAGMENT));
        }
        return Ok(Some(vec![(Occur::Must, best(alts))]));
    }
    // A word: the start of a name word or an e-mail (part), ranked up when it is a whole name
    // word. Every whole word is also its own prefix, so the prefix list drives the search and
    // the word list is only looked up in (cheaper than a union of the two).
    let word_clauses = |w: &str| -> Clauses {
        let w: String = ascii_fold(w).chars().take(MAX_GRAM).collect();
        vec![
            (Occur::Must, scored(term(f.pfx, &w), rank::PREFIX)),
            (
                Occur::Should,
                scored(term(f.name, &w), rank::WORD - rank::PREFIX),
            ),
        ]
    };
    let word_query = |w: &str| -> Box<dyn Query> {
        let q: Box<dyn Query> = Box::new(BooleanQuery::new(word_clauses(w)));
        let digits: String = w.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 3 && digits.len() == w.chars().count() {
            return best(vec![q, scored(term(f.phone_ng, &digits), rank::FRAGMENT)]);
        }
        q
    };
    let raws: Vec<&str> = q.split_whitespace().take(MAX_WORDS).collect();
    let mut clauses: Clauses = Vec::new();
    for raw in &raws {
        let lower = fold(raw);
        let mut alts: Vec<Box<dyn Query>> = Vec::new();
        let ws = words(raw);
        if lower.contains('@') || (lower.contains('.') && !lower.starts_with('.')) {
            // E-mail-ish words go whole to the e-mail prefixes ("anna.k@", "@example.co"),
            // or joined ("zoe.obrien" is also "zoeobrien"); split into parts only when they
            // look like a name, since one letter alone ("k", "c") matches much of the list.
            let e = lower.trim_start_matches('@');
            if !e.is_empty() {
                alts.push(scored(
                    term(f.pfx, &ascii_fold(&e.chars().take(64).collect::<String>())),
                    rank::PREFIX,
                ));
            }
            if ws.len() > 1 {
                alts.push(word_query(&ws.concat()));
            }
            // Initials and names with dots ("T.", "J.R.R.", "zoe.obrien") are also found by
            // their parts; a domain being typed ("example.c") is not split.
            let name_like = !lower.contains('@')
                && (lower.ends_with('.') || ws.iter().all(|w| w.chars().count() >= 2));
            if name_like && !ws.is_empty() {
                alts.push(all(ws.iter().map(|w| word_query(w)).collect()));
            }
        } else if ws.len() == 1 {
            let w = &ws[0];
            let digits = w.chars().all(|c| c.is_ascii_digit());
            if raws.len() == 1 && !digits {
                // The common type-ahead case, kept flat: one prefix list to walk.
                clauses.extend(word_clauses(w));
                continue;
            }
            alts.push(word_query(w));
        } else if ws.len() > 1 {
            alts.push(word_query(&ws.concat()));
            alts.push(all(ws.iter().map(|w| word_query(w)).collect()));
        }
        if alts.is_empty() {
            continue;
        }
        clauses.push((Occur::Must, best(alts)));
    }
    if clauses.is_empty() {
        // Only punctuation: nothing can match.
        return Ok(Some(vec![(Occur::Must, Box::new(EmptyQuery))]));
    }
    let whole = ascii_fold(&exact_form(q));
    clauses.push((Occur::Should, scored(term(f.exact, &whole), rank::EXACT)));
    Ok(Some(clauses))
}

/// Clauses of one boolean query: the caller adds its filter and section to them, so the
/// whole search is one flat query.
pub type Clauses = Vec<(Occur, Box<dyn Query>)>;

/// What tantivy's AsciiFoldingFilter does at index time, for the query side of prefix terms.
pub fn ascii_fold(w: &str) -> String {
    use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RawTokenizer, TextAnalyzer};
    let mut a = TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    let mut out = String::new();
    let mut s = a.token_stream(w);
    while let Some(t) = s.next() {
        out.push_str(&t.text);
    }
    out
}

fn range(field: Field, from: Option<i64>, to: Option<i64>) -> Box<dyn Query> {
    let lo = from.map_or(Bound::Unbounded, |v| {
        Bound::Included(Term::from_field_i64(field, v))
    });
    let hi = to.map_or(Bound::Unbounded, |v| {
        Bound::Included(Term::from_field_i64(field, v))
    });
    Box::new(RangeQuery::new(lo, hi))
}

fn text_op(f: &ContactFields, field: Field, op: &TextOp, key: Option<&str>) -> Box<dyn Query> {
    let k = key.unwrap_or("");
    match (op, key) {
        (TextOp::Equals(v), Some(_)) => term(f.cf_eq, &format!("{k}{SEP}{v}")),
        (TextOp::Equals(v), None) => term(field, v),
        (TextOp::Contains(v), Some(_)) => {
            let kk: String = k.chars().take(32).collect();
            let ws = words(v);
            if ws.is_empty() {
                return Box::new(EmptyQuery);
            }
            all(ws
                .iter()
                .map(|w| term(f.cf_pfx, &format!("{kk}{SEP}{w}")))
                .collect())
        }
        (TextOp::Contains(v), None) => {
            // Plans are short names; "contains" is a regex over the (escaped) value.
            let pattern = format!(".*{}.*", regex_escape(v));
            RegexQuery::from_pattern(&pattern, field).map_or_else(
                |_| Box::new(EmptyQuery) as Box<dyn Query>,
                |q| Box::new(q) as Box<dyn Query>,
            )
        }
        (TextOp::Empty, Some(_)) => not(term(f.cf_keys, k)),
        (TextOp::NotEmpty, Some(_)) => term(f.cf_keys, k),
        (TextOp::Empty, None) => not(term(f.flags, "has_plan")),
        (TextOp::NotEmpty, None) => term(f.flags, "has_plan"),
    }
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if c.is_alphanumeric() || c == ' ' {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

fn condition(f: &ContactFields, c: &Cond) -> Box<dyn Query> {
    let maybe_not = |q: Box<dyn Query>, negate: bool| if negate { not(q) } else { q };
    match c {
        Cond::Tag { value, negate } => maybe_not(term(f.tags, value), *negate),
        Cond::Channel { id, negate } => maybe_not(term(f.channels, id), *negate),
        Cond::Messenger { kind, negate } => maybe_not(term(f.kinds, kind), *negate),
        Cond::SalesPlan(op) => text_op(f, f.plan, op, None),
        Cond::Custom { key, op } => text_op(f, f.cf_eq, op, Some(key)),
        Cond::Created { from, to } => range(f.created, *from, *to),
        Cond::LastActivity { from, to } => range(f.activity, *from, *to),
        Cond::Flag { flag, value } => maybe_not(term(f.flags, flag), !value),
        Cond::Assigned(Some(id)) => Box::new(TermQuery::new(
            Term::from_field_u64(f.assignees, *id),
            IndexRecordOption::Basic,
        )),
        Cond::Assigned(None) => not(term(f.flags, "assigned")),
    }
}

/// The filter as one query; None when it constrains nothing.
pub fn contact_filter(f: &ContactFields, filter: &Filter) -> Option<Box<dyn Query>> {
    let mut must: Vec<Box<dyn Query>> = Vec::new();
    if !filter.messengers.is_empty() {
        must.push(any(filter
            .messengers
            .iter()
            .map(|k| term(f.kinds, k))
            .collect()));
    }
    if let Some(v) = filter.has_phone {
        must.push(condition(
            f,
            &Cond::Flag {
                flag: "has_phone",
                value: v,
            },
        ));
    }
    if let Some(v) = filter.has_email {
        must.push(condition(
            f,
            &Cond::Flag {
                flag: "has_email",
                value: v,
            },
        ));
    }
    if let Some(p) = &filter.sales_plan {
        must.push(term(f.plan, &fold_value(p)));
    }
    if let Some(a) = filter.assignee {
        must.push(condition(f, &Cond::Assigned(a)));
    }
    if !filter.conditions.is_empty() {
        let qs: Vec<_> = filter.conditions.iter().map(|c| condition(f, c)).collect();
        must.push(if filter.match_all { all(qs) } else { any(qs) });
    }
    (!must.is_empty()).then(|| all(must))
}

/// The section as a clause: "all" excludes the few outside it (it holds nearly everyone).
pub fn section(f: &ContactFields, section: &str) -> (Occur, Box<dyn Query>) {
    if section == "all" {
        return (Occur::MustNot, term(f.flags, super::schema::NOT_ALL));
    }
    (Occur::Must, term(f.flags, &format!("s:{section}")))
}

/// Full-text message search: every word must appear; the last one may be a prefix (people
/// search as they type).
/// A query and the folded words it looks for (for highlighting).
pub type WordsQuery = (Box<dyn Query>, Vec<String>);

pub fn message_text(f: &MessageFields, q: &str) -> Result<Option<WordsQuery>> {
    check_length(q)?;
    let ws: Vec<String> = words(q)
        .into_iter()
        .take(MAX_WORDS)
        .map(|w| ascii_fold(&w))
        .collect();
    let Some((last, rest)) = ws.split_last() else {
        return Ok(None);
    };
    let mut musts: Vec<Box<dyn Query>> = rest.iter().map(|w| term(f.text, w)).collect();
    let prefix = RegexQuery::from_pattern(&format!("{}.*", regex_escape(last)), f.text)
        .map_err(|e| Error::BadRequest(format!("search text: {e}")))?;
    musts.push(any(vec![boost(term(f.text, last), 2.0), Box::new(prefix)]));
    Ok(Some((all(musts), ws)))
}

/// Character ranges in `text` of words that start with one of `query_words` (folded), and a
/// snippet window around the first one. Built by hand so the UI gets plain text and ranges,
/// never markup.
pub fn highlight(text: &str, query_words: &[String]) -> (String, Vec<(usize, usize)>) {
    let chars: Vec<char> = text.chars().collect();
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() {
                i += 1;
            }
            let w: String = chars[start..i].iter().collect();
            let w = ascii_fold(&fold(&w));
            if query_words.iter().any(|q| w.starts_with(q.as_str())) {
                ranges.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    const WINDOW: usize = 160;
    let first = ranges.first().map_or(0, |r| r.0);
    let from = first.saturating_sub(40);
    let to = (from + WINDOW).min(chars.len());
    let mut snippet: String = chars[from..to].iter().collect();
    let mut shift = from;
    if from > 0 {
        snippet = format!("…{snippet}");
        shift = from.saturating_sub(1);
    }
    if to < chars.len() {
        snippet.push('…');
    }
    let ranges = ranges
        .into_iter()
        .filter(|(s, e)| *s >= from && *e <= to)
        .map(|(s, e)| (s - shift, e - shift))
        .collect();
    (snippet, ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_forms() {
        assert_eq!(phone_digits("+7 912").unwrap(), ["7912"]);
        assert_eq!(phone_digits("8 912").unwrap(), ["8912", "7912"]);
        assert_eq!(phone_digits("(912) 345").unwrap(), ["912345"]);
        assert_eq!(phone_digits("912-34").unwrap(), ["91234"]);
        assert!(phone_digits("anna").is_none());
        assert!(phone_digits("12").is_none());
    }

    #[test]
    fn highlight_marks_prefixes_in_the_original_text() {
        let (s, r) = highlight("Где мой заказ? Заказ №7781", &["заказ".to_string()]);
        assert_eq!(s, "Где мой заказ? Заказ №7781");
        let marked: Vec<String> = r
            .iter()
            .map(|(a, b)| s.chars().skip(*a).take(b - a).collect())
            .collect();
        assert_eq!(marked, ["заказ", "Заказ"]);
        let (_, r) = highlight("José wrote", &["jose".to_string()]);
        assert_eq!(r, [(0, 4)]);
    }
}
