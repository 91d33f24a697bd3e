//! An assistant's knowledge (B2): passages of its Markdown / text files in a small tantivy
//! index of their own, in memory, never mixed with the contact or message indexes. Built
//! once at start from the passages the caller read; queried with the client's words (BM25
//! over folded words, so `Ёлка` finds `елка` and `José` finds `jose`).

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, IndexReader, TantivyDocument, Term, doc};

use super::schema::{fold, words};
use super::terr;
use crate::error::Result;

/// One passage: the file it came from, the heading it sits under, the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passage {
    pub source: String,
    pub title: String,
    pub text: String,
}

/// Passages scoring below this share of the best one are left out.
const MIN_RELATIVE_SCORE: f32 = 0.4;

/// Query words used at most (a long client message is still one small query).
const MAX_QUERY_WORDS: usize = 64;

pub struct Knowledge {
    passages: Vec<Passage>,
    reader: IndexReader,
    id: tantivy::schema::Field,
    title: tantivy::schema::Field,
    body: tantivy::schema::Field,
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

impl Knowledge {
    /// Index `passages` in memory.
    pub fn build(passages: Vec<Passage>) -> Result<Knowledge> {
        let mut sb = Schema::builder();
        let opts = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("kw")
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let id = sb.add_u64_field("id", INDEXED | STORED);
        let title = sb.add_text_field("title", opts.clone());
        let body = sb.add_text_field("body", opts);
        let index = Index::create_in_ram(sb.build());
        index.tokenizers().register("kw", analyzer());
        {
            // The smallest budget tantivy takes; the arena is freed when the writer drops.
            let mut w = index.writer_with_num_threads(1, 15_000_000).map_err(terr)?;
            for (i, p) in passages.iter().enumerate() {
                w.add_document(doc!(
                    id => i as u64,
                    title => fold(&p.title),
                    body => fold(&p.text),
                ))
                .map_err(terr)?;
            }
            w.commit().map_err(terr)?;
        }
        let reader = index.reader().map_err(terr)?;
        Ok(Knowledge {
            passages,
            reader,
            id,
            title,
            body,
        })
    }

    pub fn len(&self) -> usize {
        self.passages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    /// The `k` passages that best match `text`, best first (none when no word matches).
    pub fn find(&self, text: &str, k: usize) -> Result<Vec<&Passage>> {
        if k == 0 || self.passages.is_empty() {
            return Ok(vec![]);
        }
        let mut tokens = Vec::new();
        let mut a = analyzer();
        for w in words(text).into_iter().take(MAX_QUERY_WORDS) {
            let mut s = a.token_stream(&w);
            while let Some(t) = s.next() {
                tokens.push(t.text.clone());
            }
        }
        tokens.sort();
        tokens.dedup();
        if tokens.is_empty() {
            return Ok(vec![]);
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in &tokens {
            let q = |f| -> Box<dyn Query> {
                Box::new(TermQuery::new(
                    Term::from_field_text(f, t),
                    IndexRecordOption::WithFreqs,
                ))
            };
            clauses.push((Occur::Should, q(self.body)));
            clauses.push((Occur::Should, Box::new(BoostQuery::new(q(self.title), 2.0))));
        }
        let searcher = self.reader.searcher();
        let hits = searcher
            .search(
                &BooleanQuery::new(clauses),
                &TopDocs::with_limit(k).order_by_score(),
            )
            .map_err(terr)?;
        let best = hits.first().map_or(0.0, |(s, _)| *s);
        let mut out = Vec::with_capacity(hits.len());
        // A passage that shares only a common word with the query ("are", "the") scores far
        // below the one that answers it, and would only add noise to the prompt.
        for (_, addr) in hits
            .into_iter()
            .filter(|(s, _)| *s >= best * MIN_RELATIVE_SCORE)
        {
            let d: TantivyDocument = searcher.doc(addr).map_err(terr)?;
            if let Some(p) = d
                .get_first(self.id)
                .and_then(|v| v.as_u64())
                .and_then(|i| self.passages.get(i as usize))
            {
                out.push(p);
            }
        }
        Ok(out)
    }
}

/// Split a Markdown or text file into passages: a new one at each heading and wherever a
/// passage would grow past `max_chars` (at a blank line when there is one). Each keeps
/// the heading it sits under, so "Delivery" answers carry their section's name.
pub fn split(source: &str, text: &str, max_chars: usize) -> Vec<Passage> {
    let mut out = Vec::new();
    let mut title = String::new();
    let mut cur = String::new();
    let flush = |title: &str, cur: &mut String, out: &mut Vec<Passage>| {
        let t = cur.trim();
        if !t.is_empty() {
            out.push(Passage {
                source: source.to_string(),
                title: title.to_string(),
                text: t.to_string(),
            });
        }
        cur.clear();
    };
    for para in text.split("\n\n") {
        for line in para.lines() {
            let l = line.trim_end();
            if let Some(h) = l.strip_prefix('#') {
                flush(&title, &mut cur, &mut out);
                title = h.trim_start_matches('#').trim().to_string();
                continue;
            }
            if cur.chars().count() + l.chars().count() > max_chars && !cur.is_empty() {
                flush(&title, &mut cur, &mut out);
            }
            if l.chars().count() > max_chars {
                // One enormous line: cut it.
                let chars: Vec<char> = l.chars().collect();
                for piece in chars.chunks(max_chars) {
                    cur.push_str(&piece.iter().collect::<String>());
                    flush(&title, &mut cur, &mut out);
                }
                continue;
            }
            cur.push_str(l);
            cur.push('\n');
        }
        if cur.chars().count() > max_chars / 2 {
            flush(&title, &mut cur, &mut out);
        } else if !cur.is_empty() {
            cur.push('\n');
        }
    }
    flush(&title, &mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passages_keep_their_heading_and_the_best_one_is_found() {
        let md = "# Opening hours\nWe are open Monday to Friday, 9 to 18.\n\nOn Saturday we open at 10.\n\n# Delivery\nCouriers deliver in two days.\n\n## Доставка в Ёкатеринбург\nТри дня.\n";
        let ps = split("shop.md", md, 400);
        assert_eq!(ps.len(), 3, "{ps:?}");
        assert_eq!(ps[0].title, "Opening hours");
        assert!(ps[0].text.contains("Saturday"));
        let k = Knowledge::build(ps).unwrap();
        let got = k.find("When are you open on saturday?", 2).unwrap();
        assert_eq!(got[0].title, "Opening hours");
        let got = k.find("доставка екатеринбург", 1).unwrap();
        assert_eq!(got[0].text, "Три дня.");
        assert!(k.find("zzz qqq", 3).unwrap().is_empty());
        assert!(k.find("", 3).unwrap().is_empty());
    }

    #[test]
    fn long_text_is_cut_into_bounded_passages() {
        let para = "word ".repeat(100);
        let text = format!("{para}\n\n{para}\n\n{}", "x".repeat(2000));
        let ps = split("a.txt", &text, 300);
        assert!(ps.iter().all(|p| p.text.chars().count() <= 300), "{ps:?}");
        assert!(ps.len() >= 4);
    }
}
