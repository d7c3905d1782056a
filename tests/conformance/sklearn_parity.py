#!/usr/bin/env python3
"""A scikit-learn model served by reckon scores exactly as onnxruntime-python does.

Installs pinned scikit-learn / skl2onnx / onnxruntime into a cached venv (from
PyPI), generates two scenarios with reckon, exports their journal features
(`reckon features journals`), trains and exports an IsolationForest with
notebooks/sklearn_journal_model.py, scores the second scenario's journals with
`reckon models score` (ONNX Runtime in-process through ort) and with
onnxruntime-python, and compares. Exit 1 when any score differs by more than 1e-5.
"""

import argparse
import csv
import pathlib
import subprocess
import sys
import tempfile

PINS = ["scikit-learn==1.6.1", "skl2onnx==1.20.0", "onnxruntime==1.31.1", "numpy<2.4"]
ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import pyenv  # noqa: E402


def run(*cmd):
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reckon", required=True)
    a = ap.parse_args()
    py = pyenv.venv("sklearn-venv", PINS)
    with tempfile.TemporaryDirectory() as t:
        t = pathlib.Path(t)
        for name, seed in (("train", 3), ("check", 4)):
            run(a.reckon, "generate", "--seed", seed, "--scale", 4000, "--out", t / name)
            run(a.reckon, "features", "journals", "--input", t / name, "--out", t / f"{name}.csv")
        run(py, ROOT / "notebooks" / "sklearn_journal_model.py", "--train", t / "train.csv", "--out", t / "model",
            "--check", t / "check.csv", "--check-out", t / "python.csv")
        run(a.reckon, "models", "verify", t / "model")
        run(a.reckon, "models", "score", t / "model", "--features", t / "check.csv", "--out", t / "reckon.csv")
        read = lambda p: {(r["entity"], r["journal_id"]): float(r["score"]) for r in csv.DictReader(open(p))}
        ours, theirs = read(t / "reckon.csv"), read(t / "python.csv")
        assert ours.keys() == theirs.keys(), "different journals scored"
        worst = max(abs(ours[k] - theirs[k]) for k in ours)
        print(f"sklearn parity: {len(ours)} journals, IsolationForest (skl2onnx) scored by reckon/ort vs onnxruntime-python: max |diff| {worst:.2e}")
        if worst > 1e-5:
            sys.exit(1)


if __name__ == "__main__":
    main()
