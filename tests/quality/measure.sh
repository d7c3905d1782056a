#!/usr/bin/env bash
# The CI world's figures, per seed and averaged, with the band the gate in
# crates/reckon-lab/tests/quality.rs applies: what to publish in
# tests/quality/published.json and docs/quality.md after a change moves them.
#
#   tests/quality/measure.sh [RECKON] [PREFIX]
#
# RECKON: the binary (default: target/release/reckon); PREFIX: only figures
# whose name starts with it (e.g. `journals.`). Seeds and scale come from
# published.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
reckon=${1:-$here/../../target/release/reckon}
prefix=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
scale=$(jq -r .world.scale "$here/published.json")
for seed in $(jq -r '.world.seeds[]' "$here/published.json"); do
  "$reckon" generate --seed "$seed" --scale "$scale" --out "$work/$seed" --quiet >/dev/null
  "$reckon" run --input "$work/$seed" --out "$work/$seed/out" --no-deliver --quiet >/dev/null
  "$reckon" eval --out "$work/$seed/out" --truth "$work/$seed/truth" --quiet >/dev/null
  jq -c --arg s "$seed" '{seed: $s, figures: .figures}' "$work/$seed/out/eval.json"
done | python3 -c '
import json, math, sys
prefix = sys.argv[1]
rows = [json.loads(l) for l in sys.stdin]
names = sorted({k for r in rows for k in r["figures"] if k.startswith(prefix)})
print("| figure | mean | band | sd across seeds |")
for k in names:
    v = [r["figures"][k] for r in rows]
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    floor = 0.005 if round(m, 4) == 1.0 else 0.002
    band = max(3 * sd / math.sqrt(len(v)), floor)
    print(f"| `{k}` | {m:.4f} | ±{band:.4g} | {sd:.4f} |")
' "$prefix"
