//! Best match first, then the most recent: the top `offset + limit` matches by (score,
//! activity), and how many matched, in one pass.
//!
//! tantivy's `tweak_score` reads the activity of every match one dynamic call at a time; a
//! frequent prefix (`ma`: 166k clients at 1M) made that a sixth of the whole request. Here a
//! match whose score cannot enter the page is counted and dropped without reading activity,
//! and the rest are read in blocks with `get_vals` (one dynamic call per block).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{ColumnIndex, ColumnValues};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// How many matches are read together.
const BLOCK: usize = 64;

pub struct BestRecent {
    /// The i64 fast field that breaks ties (bigger is better).
    pub field: &'static str,
    pub offset: usize,
    pub limit: usize,
}

/// A match's place: greater is better; equal score and activity go to the lower address,
/// so pages do not overlap.
#[derive(Clone, Copy)]
pub struct Hit {
    score: Score,
    at: i64,
    addr: DocAddress,
}

impl Hit {
    fn cmp_key(&self, o: &Hit) -> Ordering {
        self.score
            .total_cmp(&o.score)
            .then(self.at.cmp(&o.at))
            .then(o.addr.cmp(&self.addr))
    }
}

impl PartialEq for Hit {
    fn eq(&self, o: &Hit) -> bool {
        self.cmp_key(o) == Ordering::Equal
    }
}
impl Eq for Hit {}
impl PartialOrd for Hit {
    fn partial_cmp(&self, o: &Hit) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Hit {
    fn cmp(&self, o: &Hit) -> Ordering {
        self.cmp_key(o)
    }
}

/// The `k` best seen so far, worst on top.
struct Best {
    k: usize,
    heap: BinaryHeap<Reverse<Hit>>,
}

impl Best {
    fn new(k: usize) -> Best {
        Best {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// The score a match needs to have a chance (None while there is room).
    fn floor(&self) -> Option<Score> {
        (self.heap.len() >= self.k)
            .then(|| self.heap.peek().map(|w| w.0.score))
            .flatten()
    }

    fn offer(&mut self, h: Hit) {
        if self.heap.len() < self.k {
            self.heap.push(Reverse(h));
        } else if let Some(worst) = self.heap.peek()
            && h > worst.0
        {
            self.heap.pop();
            self.heap.push(Reverse(h));
        }
    }
}

enum Activity {
    /// Every document has a value: row = document.
    Full(Arc<dyn ColumnValues<i64>>),
    /// Some documents lack one (0 then).
    Sparse(tantivy::columnar::Column<i64>),
}

pub struct SegmentBestRecent {
    segment: SegmentOrdinal,
    activity: Activity,
    best: Best,
    matched: usize,
    docs: Vec<DocId>,
    scores: Vec<Score>,
    vals: Vec<i64>,
}

impl SegmentBestRecent {
    fn flush(&mut self) {
        if self.docs.is_empty() {
            return;
        }
        self.vals.resize(self.docs.len(), 0);
        match &self.activity {
            Activity::Full(v) => v.get_vals(&self.docs, &mut self.vals),
            Activity::Sparse(c) => {
                for (d, v) in self.docs.iter().zip(self.vals.iter_mut()) {
                    *v = c.first(*d).unwrap_or(0);
                }
            }
        }
        for i in 0..self.docs.len() {
            self.best.offer(Hit {
                score: self.scores[i],
                at: self.vals[i],
                addr: DocAddress::new(self.segment, self.docs[i]),
            });
        }
        self.docs.clear();
        self.scores.clear();
    }
}

impl Collector for BestRecent {
    /// The page's matches, best first, and how many documents matched in all.
    type Fruit = (Vec<DocAddress>, usize);
    type Child = SegmentBestRecent;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentBestRecent> {
        let column = reader.fast_fields().i64(self.field)?;
        let activity = match column.index {
            ColumnIndex::Full => Activity::Full(column.values.clone()),
            _ => Activity::Sparse(column),
        };
        Ok(SegmentBestRecent {
            segment,
            activity,
            best: Best::new(self.offset + self.limit),
            matched: 0,
            docs: Vec::with_capacity(BLOCK),
            scores: Vec::with_capacity(BLOCK),
            vals: Vec::with_capacity(BLOCK),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(
        &self,
        fruits: Vec<(Vec<Hit>, usize)>,
    ) -> tantivy::Result<(Vec<DocAddress>, usize)> {
        let matched = fruits.iter().map(|(_, n)| n).sum();
        let mut best = Best::new(self.offset + self.limit);
        for (hits, _) in fruits {
            for h in hits {
                best.offer(h);
            }
        }
        let mut all: Vec<Hit> = best.heap.into_iter().map(|r| r.0).collect();
        all.sort_by(|a, b| b.cmp(a));
        Ok((
            all.into_iter()
                .skip(self.offset)
                .take(self.limit)
                .map(|h| h.addr)
                .collect(),
            matched,
        ))
    }
}

impl SegmentCollector for SegmentBestRecent {
    type Fruit = (Vec<Hit>, usize);

    fn collect(&mut self, doc: DocId, score: Score) {
        self.matched += 1;
        // A lower score than the worst kept can never make the page, whatever its activity.
        if self.best.floor().is_some_and(|f| score < f) {
            return;
        }
        self.docs.push(doc);
        self.scores.push(score);
        if self.docs.len() == BLOCK {
            self.flush();
        }
    }

    fn harvest(mut self) -> (Vec<Hit>, usize) {
        self.flush();
        (
            self.best.heap.into_iter().map(|r| r.0).collect(),
            self.matched,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
    use tantivy::schema::{FAST, INDEXED, IndexRecordOption, STRING, Schema};
    use tantivy::{Index, TantivyDocument, Term, doc};

    /// Every page against a full sort of all matches: ties on score go to the most recent,
    /// a better score beats any activity, and pages neither overlap nor skip, across
    /// segments and blocks.
    #[test]
    fn pages_follow_score_then_activity_across_segments() {
        let mut sb = Schema::builder();
        let id = sb.add_u64_field("id", INDEXED | FAST);
        let activity = sb.add_i64_field("activity", INDEXED | FAST);
        let tag = sb.add_text_field("tag", STRING);
        let index = Index::create_in_ram(sb.build());
        let mut w = index.writer::<TantivyDocument>(15_000_000).unwrap();
        // (id, activity, tag): "top" scores 3, "mid" 2, "low" 1; activities repeat so equal
        // (score, activity) pairs exist too.
        let mut all = Vec::new();
        for seg in 0..3u64 {
            for i in 0..400u64 {
                let n = seg * 400 + i + 1;
                let t = match n % 50 {
                    0 => "top",
                    1..=9 => "mid",
                    _ => "low",
                };
                let at = ((n * 7919) % 300) as i64;
                all.push((n, at, t));
                w.add_document(doc!(id => n, activity => at, tag => t))
                    .unwrap();
            }
            w.commit().unwrap();
        }
        let searcher = index.reader().unwrap().searcher();
        assert!(searcher.segment_readers().len() > 1, "several segments");
        let clause = |t: &str, boost: f32| -> (Occur, Box<dyn Query>) {
            let q = TermQuery::new(Term::from_field_text(tag, t), IndexRecordOption::Basic);
            (
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(ConstScoreQuery::new(Box::new(q), 1.0)),
                    boost,
                )),
            )
        };
        let q = BooleanQuery::new(vec![
            clause("top", 3.0),
            clause("mid", 2.0),
            clause("low", 1.0),
        ]);
        let rank = |t: &str| match t {
            "top" => 3,
            "mid" => 2,
            _ => 1,
        };
        let mut want = all.clone();
        want.sort_by(|a, b| rank(b.2).cmp(&rank(a.2)).then(b.1.cmp(&a.1)));

        let mut seen = Vec::new();
        for page in 0..13 {
            let (addrs, matched) = searcher
                .search(
                    &q,
                    &BestRecent {
                        field: "activity",
                        offset: page * 100,
                        limit: 100,
                    },
                )
                .unwrap();
            assert_eq!(matched, 1200);
            let ids = ids_of(&searcher, &addrs);
            let keys: Vec<(i32, i64)> = ids
                .iter()
                .map(|n| {
                    let (_, at, t) = all[*n as usize - 1];
                    (rank(t), at)
                })
                .collect();
            let expected: Vec<(i32, i64)> = want
                .iter()
                .skip(page * 100)
                .take(100)
                .map(|(_, at, t)| (rank(t), *at))
                .collect();
            assert_eq!(keys, expected, "page {page}");
            seen.extend(ids);
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1200, "no page overlaps another");
    }

    fn ids_of(searcher: &tantivy::Searcher, addrs: &[DocAddress]) -> Vec<u64> {
        addrs
            .iter()
            .map(|a| {
                searcher
                    .segment_reader(a.segment_ord)
                    .fast_fields()
                    .u64("id")
                    .unwrap()
                    .first(a.doc_id)
                    .unwrap()
            })
            .collect()
    }
}
