#!/usr/bin/env bash
# reckon beside its Python peers (pandas rules, the ERP's exact-key duplicate
# check, splink, scikit-learn's IsolationForest, PyOD's ECOD) on the same
# generated books: see benches/peers.py. Installs the pinned PyPI packages in
# a cached virtual environment and builds reckon in release mode first.
#
#   benches/peers.sh [--scale 200000] [--seed 11] [--out /tmp/reckon-peers]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${RECKON_PEERS_VENV:-$HOME/.cache/reckon/peers-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r benches/peers-requirements.txt
cargo build --release --locked -p reckon-cli
target="${CARGO_TARGET_DIR:-target}"
exec "$venv/bin/python" benches/peers.py --reckon "$target/release/reckon" "$@"
