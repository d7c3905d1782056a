#!/usr/bin/env bash
# The run report at scale: generates a scenario (default scale 200000), runs
# `reckon run --report` on it, and measures report.html's size and the time
# headless Chromium takes to load and lay it out (--dump-dom), median of three,
# beside the same browser on about:blank in the same run. Fails when the report
# passes 5 MB or Chromium logs any console message for it (the page has no script).
#
# Usage: benches/report_render.sh RECKON_BINARY [SCALE]
set -euo pipefail
reckon=$1
scale=${2:-200000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$reckon" generate --seed 77 --scale "$scale" --out "$work/in" >/dev/null
start=$(date +%s%N)
"$reckon" run --no-deliver --report --input "$work/in" --out "$work/out" >/dev/null
run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
bytes=$(stat -c %s "$work/out/report.html")
load() {
  local s e
  s=$(date +%s%N)
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$work/profile-$RANDOM" --dump-dom "$1" >/dev/null 2>&1
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
console=$(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --enable-logging=stderr --log-level=0 --user-data-dir="$work/profile-log" \
  --dump-dom "file://$work/out/report.html" 2>&1 >/dev/null | grep -c ':CONSOLE' || true)
page=$(median "$(load "file://$work/out/report.html")" "$(load "file://$work/out/report.html")" "$(load "file://$work/out/report.html")")
blank=$(median "$(load about:blank)" "$(load about:blank)" "$(load about:blank)")
echo "report at scale $scale: run with --report ${run_ms} ms; report.html ${bytes} bytes; Chromium load ${page} ms (about:blank ${blank} ms, difference $(( page - blank )) ms)"
echo "console messages: $console"
if [ "$bytes" -gt 5000000 ]; then
  echo "report.html is larger than 5 MB"
  exit 1
fi
if [ "$console" -ne 0 ]; then
  echo "Chromium logged console messages for the report"
  exit 1
fi
