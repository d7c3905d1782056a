#!/usr/bin/env bash
# Runs every fuzz target of reckon for a number of executions each and prints a
# Markdown table row per target (docs/conformance.md keeps the latest figures).
#
# Usage: tests/fuzz/run.sh [RUNS_PER_TARGET] [TARGET...]   (default 10000000, all)
#
# Targets: reckon-formats' parsers (mt940 camt bai2 x12 any) and reckon-ingest's
# csv_differential (the CSV scanner against the csv crate). Needs
# `cargo install cargo-fuzz`; the stable toolchain works via RUSTC_BOOTSTRAP=1.
# Builds carry debug assertions (overflow checks) and no sanitizer: the code
# under test has no `unsafe`, and the sanitizer would cost half the executions.
# Seeds are the fixtures; corpora grow in <crate>/fuzz/corpus/ (git-ignored).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-10000000}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(mt940 camt bai2 x12 any csv_differential)
export RUSTC_BOOTSTRAP=1
fx=$root/tests/fixtures/ingest
echo "| target | executions | time | executions/s | corpus | crashes |"
echo "|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
  if [ "$t" = csv_differential ]; then dir=$root/crates/reckon-ingest/fuzz; else dir=$root/crates/reckon-formats/fuzz; fi
  corpus=$dir/corpus/$t
  mkdir -p "$corpus"
  case $t in
    mt940) cp "$fx"/*/input/bank/*.sta "$corpus"/ 2>/dev/null || true ;;
    camt) cp "$fx"/*/input/*/*.xml "$corpus"/ 2>/dev/null || true ;;
    bai2) cp "$fx"/*/input/bank/*.bai "$corpus"/ 2>/dev/null || true ;;
    x12) cp "$fx"/*/input/remittance/*.{edi,820} "$corpus"/ 2>/dev/null || true ;;
    any) cp "$fx"/*/input/bank/* "$fx"/*/input/remittance/* "$corpus"/ 2>/dev/null || true ;;
    # The first byte picks the target's mode (even: the file as found).
    csv_differential) for f in "$fx"/*/input/*.csv; do
        (printf '\0'; head -c 2000 "$f") >"$corpus/seed-$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"
      done ;;
  esac
  log=$(mktemp)
  start=$(date +%s)
  if (cd "$dir" && cargo fuzz run -a -s none "$t" "$corpus" -- -runs="$runs" -max_len=2048 -print_final_stats=1) >"$log" 2>&1; then
    crashes=0
  else
    crashes="1 (see $dir/artifacts/$t)"
  fi
  secs=$(( $(date +%s) - start ))
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)
  execs=${execs:-$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')}
  files=$(find "$corpus" -type f | wc -l)
  rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
  echo "| $t | ${execs:-?} | ${secs} s | $rate | $files files | $crashes |"
  if [ "$crashes" != 0 ]; then grep -A12 -E 'panicked|ERROR: libFuzzer' "$log" | head -30 >&2; fi
  rm -f "$log"
done
