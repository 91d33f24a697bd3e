#!/usr/bin/env bash
# Builds and runs every fuzz target for a bounded time, then minimises its corpus.
#
#   tests/fuzz/run.sh [seconds per target, default 60] [target ...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Prints, per
# target, libFuzzer's executions, the corpus size and the crashes found, then PASS or FAIL;
# exits non-zero when any target crashed. A crash input is left in
# tests/fuzz/artifacts/<target>/: fix the bug, then copy the input to
# tests/fuzz/regressions/<target>/ so `cargo test` replays it for good.
#
# FUZZ_SANITIZER (default "none"): "address" also works but builds aws-lc's C code with
#   ASan, which is far slower to build and run; the code under test is safe Rust.
# FUZZ_LOCK: a file to flock around each build and each target's run (shared machines).
# FUZZ_CMIN=0 skips the corpus minimisation.
# FUZZ_KEEP_KB: after cmin, keep the seeds and a sample of the rest within this many KiB per
#   target (what is committed stays small; 40 keeps all targets near 300 KiB).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secs="${1:-60}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cd "$here/fuzz_targets" && ls *.rs | sed 's/\.rs$//')
fi
sanitizer="${FUZZ_SANITIZER:-none}"

locked() {
    if [[ -n "${FUZZ_LOCK:-}" ]]; then
        flock "$FUZZ_LOCK" "$@"
    else
        "$@"
    fi
}

# cargo-fuzz subcommand with this crate's options (a command, not a function, so flock can run it).
fuzz() {
    locked cargo +nightly fuzz "$1" --fuzz-dir "$here" -s "$sanitizer" "${@:2}"
}

# Keep the seeds plus a fixed-seed random sample of the rest (all sizes, not only the
# trivial smallest inputs) within $2 KiB and 300 files.
trim() {
    local total=0 kept=0 size path
    while read -r size path; do
        total=$((total + size))
        kept=$((kept + 1))
        if (( total > $2 * 1024 || kept > 300 )); then rm -f "$path"; fi
    done < <(find "$1" -maxdepth 1 -type f ! -name 'seed-*' -printf '%s %p\n' |
        shuf --random-source=<(yes parley))
}

bytes() {
    find "$1" -maxdepth 1 -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'
}

count() {
    find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l
}

if ! fuzz build; then
    echo "build failed" >&2
    exit 2
fi

failed=0
summary=()
for t in "${targets[@]}"; do
    corpus="$here/corpus/$t"
    artifacts="$here/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    crashes_before=$(count "$artifacts")
    log="$(mktemp)"
    # Seeds and regressions go in as extra read-only corpus dirs; new inputs land in $corpus.
    extra=()
    [[ -d "$here/regressions/$t" ]] && extra+=("$here/regressions/$t")
    set +e
    fuzz run "$t" "$corpus" "${extra[@]}" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    crashes=$(( $(count "$artifacts") - crashes_before ))
    if [[ $rc -ne 0 || $crashes -gt 0 ]]; then
        status=FAIL
        failed=1
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written' "$log" | head -20 || true
        echo "full log: $log"
    else
        status=PASS
        rm -f "$log"
        if [[ "${FUZZ_CMIN:-1}" != 0 ]]; then
            fuzz cmin "$t" "$corpus" >/dev/null 2>&1 || echo "$t: cmin failed" >&2
        fi
        if [[ -n "${FUZZ_KEEP_KB:-}" ]]; then
            trim "$corpus" "$FUZZ_KEEP_KB"
        fi
    fi
    line=$(printf '%-18s %6ss  executions %10s  corpus %5s files %8s bytes  crashes %s  %s' \
        "$t" "$secs" "${execs:-?}" "$(count "$corpus")" "$(bytes "$corpus")" "$crashes" "$status")
    echo "$line"
    summary+=("$line")
done

echo
echo "== fuzz summary ($(date -u +%F), ${secs}s per target, sanitizer $sanitizer) =="
printf '%s\n' "${summary[@]}"
exit "$failed"
