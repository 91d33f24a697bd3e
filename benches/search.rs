//! Search benchmarks on the real index (server-side: index query + loading the page's rows
//! from redb): `cargo bench --bench search`. BENCH_SEARCH_SIZES (default "100000,1000000")
//! sets the client counts; messages = clients (so 1M messages at 1M clients).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley::domain::filter::parse;
use parley::search::Search;
use parley::store::Store;
use parley::store::inbox::InboxReads;

// The same allocator as the shipped binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn page(
    search: &Search,
    store: &Store,
    q: Option<&str>,
    filter: Option<&parley::domain::filter::Filter>,
) -> usize {
    let (ids, _) = search
        .contacts(q, filter, Some("all"), true, 0, 50)
        .unwrap();
    store
        .read(|r| {
            let mut n = 0;
            for id in &ids {
                n += r.contact(*id)?.is_some() as usize;
            }
            Ok(n)
        })
        .unwrap()
}

fn main() {
    parley::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sizes: Vec<u64> = std::env::var("BENCH_SEARCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut rows = Vec::new();
    for n in sizes {
        // BENCH_SEARCH_DIR keeps the generated data (and index) between runs of one size.
        let tmp = tempfile::tempdir().unwrap();
        let path = match std::env::var("BENCH_SEARCH_DIR") {
            Ok(d) => std::path::PathBuf::from(format!("{d}-{n}")),
            Err(_) => tmp.path().to_path_buf(),
        };
        let fresh = !path.join("parley.redb").exists();
        let store = Store::open(&path).unwrap();
        let t = Instant::now();
        if fresh {
            rt.block_on(parley::inbox::demo::generate(&store, n, n, 7, &|_| {}))
                .unwrap();
        }
        let gen_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let feed = parley::inbox::indexing::source(store.clone());
        let search = Arc::new(Search::open(&path, feed, &|_, _, _| {}).unwrap());
        let index_s = t.elapsed().as_secs_f64();
        let per = search.disk_bytes() as f64 / n as f64;
        // Let merges started by the build settle: queries are measured on a quiet index.
        std::thread::sleep(Duration::from_secs(
            std::env::var("BENCH_SEARCH_SETTLE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(5),
        ));
        eprintln!(
            "{n}: generated in {gen_s:.1} s, indexed (contacts + messages) in {index_s:.1} s"
        );
        rows.push((
            format!("{n} clients: full reindex (contacts + {n} messages)"),
            format!("{index_s:.1} s"),
            "-".to_string(),
        ));
        rows.push((
            format!("{n} clients: index size on disk per client (both indexes)"),
            format!("{per:.0} B"),
            "-".to_string(),
        ));

        // Query samples from the data itself.
        let mut rng = parley::inbox::demo::Rng::new(3);
        let sample: Vec<parley::domain::inbox::Contact> = store
            .read(|r| {
                (0..400)
                    .filter_map(|_| r.contact(1 + rng.below(n)).transpose())
                    .collect()
            })
            .unwrap();
        let names: Vec<String> = sample
            .iter()
            .map(|c| c.name.chars().take(3).collect())
            .collect();
        let phones: Vec<String> = sample
            .iter()
            .filter_map(|c| c.phones.first())
            .map(|p| p[2..p.len().min(8)].to_string())
            .collect();
        let emails: Vec<String> = sample
            .iter()
            .filter_map(|c| c.emails.first())
            .map(|e| e.chars().take(6).collect())
            .collect();
        let rare: Vec<String> = ["zo", "yı", "ök", "фё", "ks", "ju", "ha", "ел"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // What people type into the Chats search box, frequent two-letter prefixes (100k+
        // matches at 1M) and rare ones, e-mail and phone fragments (issue 19's set).
        let typeahead: Vec<String> = [
            "ma",
            "an",
            "al",
            "el",
            "ol",
            "da",
            "се",
            "ан",
            "ма",
            "zo",
            "yı",
            "ök",
            "фё",
            "ks",
            "ju",
            "@example",
            "example.c",
            "anna.k@",
            "+7 9",
            "912 3",
            "8 912",
            "mari",
            "obrien",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut v = Vec::new();
        for i in 0..(typeahead.len() * 30) {
            let q = &typeahead[i % typeahead.len()];
            let t = Instant::now();
            page(&search, &store, Some(q), None);
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        if std::env::var("BENCH_SEARCH_QUICK").is_ok() {
            for (k, q) in typeahead.iter().enumerate() {
                let mut per: Vec<f64> =
                    v.iter().skip(k).step_by(typeahead.len()).cloned().collect();
                let total = search
                    .contacts(Some(q), None, Some("all"), true, 0, 50)
                    .unwrap()
                    .1;
                eprintln!(
                    "{q:>12}: p50 {:.2} max {:.2} ms ({total} matches)",
                    pct(&mut per, 0.5),
                    pct(&mut per, 1.0)
                );
            }
        }
        let max = v.iter().cloned().fold(0.0, f64::max);
        rows.push((
            format!(
                "{n} clients: type-ahead set ({} inputs × 30) p50 / p99 / max",
                typeahead.len()
            ),
            format!(
                "{:.2} / {:.2} / {max:.2} ms",
                pct(&mut v, 0.5),
                pct(&mut v, 0.99)
            ),
            "p99 ≤ 5 ms".into(),
        ));
        for one in ["a", "m"] {
            let mut v = Vec::new();
            for _ in 0..50 {
                let t = Instant::now();
                page(&search, &store, Some(one), None);
                v.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            rows.push((
                format!("{n} clients: one letter {one:?} p50 / p99"),
                format!("{:.2} / {:.2} ms", pct(&mut v, 0.5), pct(&mut v, 0.99)),
                "-".into(),
            ));
        }
        if std::env::var("BENCH_SEARCH_QUICK").is_ok() {
            continue;
        }
        let classes: Vec<(&str, Vec<String>)> = vec![
            ("name prefix (3 letters)", names),
            ("phone fragment (6 digits)", phones),
            ("e-mail prefix", emails),
            ("rare two-letter prefix", rare),
        ];
        for (label, qs) in &classes {
            let mut v = Vec::new();
            for i in 0..600 {
                let q = &qs[i % qs.len()];
                let t = Instant::now();
                page(&search, &store, Some(q), None);
                v.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            rows.push((
                format!("{n} clients: search {label} p50 / p99"),
                format!("{:.2} / {:.2} ms", pct(&mut v, 0.5), pct(&mut v, 0.99)),
                "p99 ≤ 5 ms".into(),
            ));
        }
        // Two concurrent searchers, all classes mixed.
        let all: Arc<Vec<String>> = Arc::new(classes.iter().flat_map(|(_, q)| q.clone()).collect());
        let deadline = Instant::now() + Duration::from_secs(5);
        let threads: Vec<_> = (0..2)
            .map(|k| {
                let (search, store, all) = (search.clone(), store.clone(), all.clone());
                std::thread::spawn(move || {
                    let mut lat = Vec::new();
                    let mut i = k;
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        page(&search, &store, Some(&all[i % all.len()]), None);
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        i += 2;
                    }
                    lat
                })
            })
            .collect();
        let mut lat: Vec<f64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let qps = lat.len() as f64 / 5.0;
        rows.push((
            format!("{n} clients: 2 concurrent searchers"),
            format!("{qps:.0} queries/s, p99 {:.2} ms", pct(&mut lat, 0.99)),
            "≥ 2,000 q/s".into(),
        ));
        // Filter-only queries.
        let filters = [
            r#"{"messengers":["telegram"],"has_phone":true}"#,
            r#"{"conditions":[{"field":"tag","op":"is","value":"vip"},{"field":"unread","op":"is","value":false}]}"#,
            r#"{"match":"any","conditions":[{"field":"sales_plan","op":"equals","value":"retail"},{"field":"open_task","op":"is","value":true}]}"#,
            r#"{"has_email":false,"conditions":[{"field":"created","op":"after","value":0}]}"#,
        ];
        let parsed: Vec<_> = filters.iter().map(|f| parse(f).unwrap()).collect();
        let mut v = Vec::new();
        for i in 0..400 {
            let t = Instant::now();
            page(&search, &store, None, Some(&parsed[i % parsed.len()]));
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let chats = store.read(parley::store::inbox::chat_count).unwrap();
        rows.push((
            format!("{n} clients ({chats} chats): filter-only page p50 / p99"),
            format!("{:.2} / {:.2} ms", pct(&mut v, 0.5), pct(&mut v, 0.99)),
            "p99 ≤ 20 ms".into(),
        ));
        // Message full-text search.
        let words = [
            "заказ",
            "order",
            "deliv",
            "доставк",
            "refund",
            "blue",
            "спасибо",
            "madrid",
            "стоимость доставки",
            "is the ord",
        ];
        let mut v = Vec::new();
        for i in 0..500 {
            let t = Instant::now();
            let (hits, _, _) = search.messages(words[i % words.len()], 0, 20).unwrap();
            std::hint::black_box(hits);
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        rows.push((
            format!("{n} messages: message search p50 / p99"),
            format!("{:.2} / {:.2} ms", pct(&mut v, 0.5), pct(&mut v, 0.99)),
            "p99 ≤ 20 ms".into(),
        ));
    }
    println!("\n| metric | result | target |\n|---|---|---|");
    for (a, b, c) in rows {
        println!("| {a} | {b} | {c} |");
    }
}
