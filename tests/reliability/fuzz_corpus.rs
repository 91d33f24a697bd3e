//! Replays the committed fuzz corpus and every crash the fuzzer ever found through the same
//! entry points the fuzz targets call (`parley::fuzzing`), so a parser change that brings a
//! panic back fails `cargo test` without nightly or libFuzzer. The fuzzer itself runs from
//! `tests/fuzz/run.sh` (RELIABILITY.md, "Fuzzing").

use std::path::{Path, PathBuf};

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("read corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// Runs every input of `target`'s corpus and regressions; the input's path is in the panic.
fn replay(name: &str, target: parley::fuzzing::Target) -> (usize, usize) {
    let corpus = files_in(&fuzz_dir().join("corpus").join(name));
    let regressions = files_in(&fuzz_dir().join("regressions").join(name));
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).expect("read corpus file");
        let r = std::panic::catch_unwind(|| target(&data));
        assert!(r.is_ok(), "{name}: {} panics", path.display());
    }
    (corpus.len(), regressions.len())
}

#[test]
fn every_corpus_and_regression_input_is_handled_without_a_panic() {
    let mut total = 0;
    for (name, target) in parley::fuzzing::TARGETS {
        let fuzz_target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(
            fuzz_target.is_file(),
            "{name} has no fuzz target at {}",
            fuzz_target.display()
        );
        let (corpus, regressions) = replay(name, *target);
        // An empty corpus would make this test pass without replaying anything.
        assert!(corpus > 0, "{name}: tests/fuzz/corpus/{name} is empty");
        eprintln!("{name}: {corpus} corpus inputs, {regressions} regressions");
        total += corpus + regressions;
    }
    assert!(total >= parley::fuzzing::TARGETS.len());
}

#[test]
fn every_fuzz_target_has_an_entry_point() {
    let mut on_disk: Vec<String> = files_in(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = parley::fuzzing::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "tests/fuzz/fuzz_targets vs parley::fuzzing::TARGETS"
    );
}
