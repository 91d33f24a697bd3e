//! Every match of a query as ids read from a u64 fast field, in one pass over the matching
//! documents: no scoring, no ordering and no stored-document reads, unlike paging through
//! `TopDocs` (each page re-runs the query and keeps offset + limit hits, O(n²) for all).

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// Collects the `field` value of every match, keeping at most `cap` of them per segment
/// while still counting all: a caller refusing more than `cap` learns how many there were
/// without holding them.
pub struct Ids {
    pub field: &'static str,
    pub cap: usize,
}

pub struct SegmentIds {
    column: Column<u64>,
    cap: usize,
    ids: Vec<u64>,
    matched: usize,
}

impl Collector for Ids {
    /// The ids (unordered, at most `cap` per segment) and how many documents matched.
    type Fruit = (Vec<u64>, usize);
    type Child = SegmentIds;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentIds> {
        Ok(SegmentIds {
            column: segment.fast_fields().u64(self.field)?,
            cap: self.cap,
            ids: Vec::new(),
            matched: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<(Vec<u64>, usize)>) -> tantivy::Result<(Vec<u64>, usize)> {
        let matched = fruits.iter().map(|(_, n)| n).sum();
        let mut ids = Vec::with_capacity(fruits.iter().map(|(v, _)| v.len()).sum());
        for (v, _) in fruits {
            ids.extend(v);
        }
        Ok((ids, matched))
    }
}

impl SegmentCollector for SegmentIds {
    type Fruit = (Vec<u64>, usize);

    fn collect(&mut self, doc: DocId, _: Score) {
        self.matched += 1;
        if self.ids.len() < self.cap
            && let Some(id) = self.column.first(doc)
        {
            self.ids.push(id);
        }
    }

    fn harvest(self) -> (Vec<u64>, usize) {
        (self.ids, self.matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::query::{AllQuery, TermQuery};
    use tantivy::schema::{FAST, INDEXED, IndexRecordOption, STRING, Schema};
    use tantivy::{Index, TantivyDocument, Term, doc};

    #[test]
    fn every_live_match_across_segments_is_collected_once() {
        let mut sb = Schema::builder();
        let id = sb.add_u64_field("id", INDEXED | FAST);
        let tag = sb.add_text_field("tag", STRING);
        let index = Index::create_in_ram(sb.build());
        let mut w = index.writer::<TantivyDocument>(15_000_000).unwrap();
        // Three commits make three segments; the deletes leave dead documents in them.
        for seg in 0..3u64 {
            for i in 0..1000u64 {
                let n = seg * 1000 + i + 1;
                let t = if n % 3 == 0 { "vip" } else { "other" };
                w.add_document(doc!(id => n, tag => t)).unwrap();
            }
            w.commit().unwrap();
        }
        w.delete_term(Term::from_field_u64(id, 3));
        w.delete_term(Term::from_field_u64(id, 2999));
        w.commit().unwrap();
        let reader = index.reader().unwrap();
        let searcher = reader.searcher();
        assert!(searcher.segment_readers().len() > 1, "several segments");

        let vip = TermQuery::new(Term::from_field_text(tag, "vip"), IndexRecordOption::Basic);
        let (mut got, matched) = searcher
            .search(
                &vip,
                &Ids {
                    field: "id",
                    cap: usize::MAX,
                },
            )
            .unwrap();
        got.sort_unstable();
        let want: Vec<u64> = (1..=3000).filter(|n| n % 3 == 0 && *n != 3).collect();
        assert_eq!(got, want);
        assert_eq!(matched, want.len());

        let (all, matched) = searcher
            .search(
                &AllQuery,
                &Ids {
                    field: "id",
                    cap: 10,
                },
            )
            .unwrap();
        assert_eq!(matched, 2998, "every live document is counted");
        assert!(all.len() <= 10 * searcher.segment_readers().len());
    }
}
