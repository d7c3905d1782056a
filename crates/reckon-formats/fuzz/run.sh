#!/usr/bin/env bash
# Runs every fuzz target of reckon-formats for a bounded time and reports executions.
# Usage: crates/reckon-formats/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
# Needs `cargo install cargo-fuzz`. The toolchain here is stable, so nightly-only flags
# are unlocked with RUSTC_BOOTSTRAP=1; seeds come from the format fixtures.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
export RUSTC_BOOTSTRAP=1
root=../../..
for t in mt940 camt bai2 x12 any; do
  corpus=corpus/$t
  mkdir -p "$corpus"
  case $t in
    mt940) cp $root/tests/fixtures/ingest/statements*/input/bank/*.sta "$corpus"/ 2>/dev/null || true ;;
    camt) cp $root/tests/fixtures/ingest/statements*/input/*/*.xml "$corpus"/ 2>/dev/null || true ;;
    bai2) cp $root/tests/fixtures/ingest/statements*/input/bank/*.bai "$corpus"/ 2>/dev/null || true ;;
    x12) cp $root/tests/fixtures/ingest/statements*/input/remittance/*.{edi,820} "$corpus"/ 2>/dev/null || true ;;
    any) cp $root/tests/fixtures/ingest/statements*/input/*/* "$corpus"/ 2>/dev/null || true ;;
  esac
  log=$(mktemp)
  if cargo fuzz run "$t" "$corpus" -- -max_total_time="$secs" -max_len=65536 >"$log" 2>&1; then status=ok; else status=CRASH; fi
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || grep -Eo '#[0-9]+' "$log" | tail -1 | tr -d '#')
  echo "fuzz $t: ${secs}s, ${execs:-?} executions, $status"
  if [ "$status" = CRASH ]; then tail -40 "$log"; fi
  rm -f "$log"
done
