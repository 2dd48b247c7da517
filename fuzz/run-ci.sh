#!/usr/bin/env bash
# A short, bounded fuzzing run for CI: builds the targets on the stable toolchain (coverage
# instrumentation for workspace members only, see fuzz/rustc-sancov), seeds a fresh corpus from
# the tests' inputs and runs each target for FUZZ_SECONDS (default 30). Exits non-zero on a crash,
# a hang (an input over 10 s) or an input that takes more than 2 GB; the input is printed (base64)
# so it can be saved under fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

RUSTC_WORKSPACE_WRAPPER="$PWD/fuzz/rustc-sancov" cargo build --release --workspace --bins
target_dir="$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
python3 fuzz/make-corpus.py "$work/corpus"

status=0
for target in read_log sql; do
    mkdir -p "$work/artifacts/$target"
    extra=()
    [ "$target" = sql ] && extra=(-dict=fuzz/sql.dict)
    echo "fuzzing $target for ${seconds}s"
    if ! nice -n 10 "$target_dir/release/$target" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "${extra[@]}" \
        -artifact_prefix="$work/artifacts/$target/" "$work/corpus/$target" 2>"$work/$target.log"; then
        status=1
        tail -n 40 "$work/$target.log"
        for input in "$work/artifacts/$target"/*; do
            [ -f "$input" ] || continue
            echo "input that failed $target ($(basename "$input")), base64:"
            base64 "$input"
        done
    else
        grep -E '^stat::number_of_executed_units|^Done' "$work/$target.log" || true
    fi
done
exit "$status"
