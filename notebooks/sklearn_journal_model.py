"""A scikit-learn journal model dropped into reckon through ONNX.

Data scientists work on the features reckon computes (``reckon features journals
--input DIR --out features.csv``: one row per journal, the ``journal_v2`` columns,
and ``label`` when the folder is a generated scenario with truth). This script
trains a scikit-learn IsolationForest on them, exports it with skl2onnx and writes
a reckon model folder (``model.onnx``, ``config.json``, ``MODEL_CARD.md``) that
``reckon models verify`` accepts and ``reckon models score`` serves with ONNX
Runtime in-process. With ``--check FEATURES.csv`` it also writes
onnxruntime-python's scores for those rows, so reckon's can be compared.

    python notebooks/sklearn_journal_model.py --train train.csv --out models/sk_journals_iforest_v1_0 \
        [--check test.csv --check-out ort_python_scores.csv]
"""

import argparse
import csv
import hashlib
import json
import pathlib

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.ensemble import IsolationForest

ID_COLUMNS = {"entity", "journal_id", "label"}


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    features = [c for c in rows[0].keys() if c not in ID_COLUMNS]
    x = np.array([[float(r[c]) for c in features] for r in rows], dtype=np.float32)
    return rows, features, x


def train(train_csv):
    """An IsolationForest fitted on the journal features of ``train_csv``."""
    rows, features, x = read(train_csv)
    model = IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(x)
    return model, features, len(rows)


def export(model, features, out, train_csv, journals):
    """Writes a reckon model folder (``model.onnx``, ``config.json``, ``MODEL_CARD.md``)."""
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, len(features)]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onx.ir_version = 8  # ONNX Runtime 1.31 reads IR <= 10
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = onx.SerializeToString()
    (out / "model.onnx").write_bytes(data)
    config = {
        "name": "sk_journals_iforest",
        "version": "1.0",
        "task": "journal_isolation",
        "feature_spec": "journal_v2",
        "features": features,
        "input": "features",
        "output": "scores",
        # sklearn's decision_function: higher = more normal; reckon wants higher = more anomalous.
        "output_mapping": "negate",
        "thresholds": {},
        "model_sha256": hashlib.sha256(data).hexdigest(),
        "training_data_sha256": hashlib.sha256(pathlib.Path(train_csv).read_bytes()).hexdigest(),
    }
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    # The fact lines `reckon models verify` holds against config.json (reckon-lab's card template).
    facts = [
        f"# Model card: {config['name']} {config['version']}",
        f"Task `{config['task']}`; input `{config['input']}` → output `{config['output']}` (`{config['output_mapping']}`); ONNX Runtime 1.31.1 through `ort`.",
        f"Features (`{config['feature_spec']}`, {len(features)} in column order): {', '.join(features)}.",
        "Thresholds: none.",
        f"`model.onnx` sha256 `{config['model_sha256']}`; training data sha256 `{config['training_data_sha256']}`.",
    ]
    (out / "MODEL_CARD.md").write_text(
        facts[0] + "\n\n## Intended use\n"
        "Showing that a data scientist's model drops into reckon; not the shipped journal model.\n\n"
        "## Model\n"
        "scikit-learn IsolationForest (100 trees, max_samples 256, random_state 0), exported with\n"
        "skl2onnx (opset 17, ai.onnx.ml 3). Output `scores` = decision_function, negated by reckon.\n\n"
        + "\n".join(facts[1:4]) + "\n\n## Training data\n"
        f"journal_v2 features of `{train_csv}` ({journals} journals).\n\n" + facts[4] + "\n"
    )
    return out


def check_scores(model, features, out, check_csv, check_out):
    """onnxruntime-python's scores (negated, as reckon reports them) for ``check_csv``,
    written to ``check_out``; returns the largest difference to sklearn itself."""
    crow, cfeat, cx = read(check_csv)
    assert cfeat == features, "check features differ from training features"
    sess = ort.InferenceSession(str(pathlib.Path(out) / "model.onnx"))
    scores = sess.run(["scores"], {"features": cx})[0].reshape(-1)
    # The same rows through sklearn itself, to show the export is faithful.
    worst = float(np.max(np.abs(scores - model.decision_function(cx))))
    with open(check_out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["entity", "journal_id", "score"])
        for r, s in zip(crow, scores):
            w.writerow([r["entity"], r["journal_id"], f"{-float(s):.9f}"])
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--check")
    ap.add_argument("--check-out")
    a = ap.parse_args()
    model, features, journals = train(a.train)
    out = export(model, features, a.out, a.train, journals)
    if a.check:
        worst = check_scores(model, features, out, a.check, a.check_out)
        print(f"skl2onnx vs sklearn decision_function: max |diff| {worst:.2e}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
