"""reckon beside the Python peers a team would otherwise use, on the same
generated books, on the same machine, in one go.

    python benches/peers.py --reckon target/release/reckon --scale 100000 --out /tmp/peers

Generates a scenario (`reckon generate`), runs `reckon run` on it and scores
it with `reckon eval`; then runs each peer as its own subprocess (wall time
and peak RSS from the operating system) and scores it against the same truth
files with the same definitions:

- cash, pandas rules: a receipt is cleared when its reference or text names
  an open invoice number of the same amount and currency, else when exactly
  one open item has its amount and currency (the rules an ERP's automatic
  clearing runs first);
- duplicates, the ERP's exact-key check: same vendor, invoice number and
  amount; and splink 4 (DuckDB) deduplication on vendor, invoice number,
  amount and invoice date, trained on the invoices by expectation
  maximisation; pairs at the match-probability cut (0.5 to 0.9999) with the
  best F1 on the truth — an upper bound for splink, its cut chosen on the
  rows it is scored on;
- journals, scikit-learn's IsolationForest and PyOD's ECOD on each journal's
  one-hot account, source, preparer, weekday and hour, line count and
  log amount, scored by ROC-AUC and average precision.

Definitions (as `reckon eval`): cash auto precision = receipts cleared with
exactly their true items / receipts cleared; touchless = receipts cleared
right / receipts that have true items; duplicates precision, recall and F1
over unordered document pairs; journals ROC-AUC and average precision at the
journal level. Throughput: rows of the engine's input per second of the
engine's own time (reckon: the stage's time in the manifest).

Writes OUT/peers.json and prints a Markdown table.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path


def wall_and_rss(cmd, log):
    """Runs cmd with its output to the file `log`; returns (seconds, peak RSS in GiB)."""
    t = time.perf_counter()
    with open(log, "wb") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{Path(log).read_text(errors='replace')[-4000:]}")
    return wall, ru.ru_maxrss / (1 << 20)


# ---------------------------------------------------------------- peers


def peer_cash(inp):
    import pandas as pd

    bank = pd.read_csv(inp / "bank_transactions.csv", dtype=str, keep_default_na=False)
    items = pd.read_csv(inp / "ar_open_items.csv", dtype=str, keep_default_na=False)
    t = time.perf_counter()
    bank["amt"] = pd.to_numeric(bank["amount"])
    items["amt"] = pd.to_numeric(items["amount_open"])
    receipts = bank[bank["amt"] > 0]
    key = lambda s: re.sub(r"[^0-9A-Z]", "", s.upper())
    by_number = {}
    for iid, num, amt, cur in zip(items["item_id"], items["invoice_number"], items["amount_open"], items["currency"]):
        by_number.setdefault((key(num), amt, cur), []).append(iid)
    by_amount = items.groupby(["amount_open", "currency"])["item_id"].agg(list).to_dict()
    cleared = {}
    for txn, amt, cur, ref, desc in zip(
        receipts["txn_id"], receipts["amount"], receipts["currency"], receipts["reference"], receipts["description"]
    ):
        amt = f"{float(amt):.2f}"
        hit = None
        for tok in re.split(r"[\s,;/:()]+", f"{ref} {desc}"):
            k = key(tok)
            if len(k) >= 4 and len(by_number.get((k, amt, cur), [])) == 1:
                hit = by_number[(k, amt, cur)][0]
                break
        if hit is None:
            same = by_amount.get((amt, cur), [])
            if len(same) == 1:
                hit = same[0]
        if hit is not None:
            cleared[txn] = [hit]
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "rows": len(receipts), "cleared": cleared}


def peer_dup_exact(inp):
    import pandas as pd

    ap = pd.read_csv(inp / "ap_invoices.csv", dtype=str, keep_default_na=False)
    t = time.perf_counter()
    pairs = set()
    for _, g in ap.groupby(["vendor_id", "invoice_number", "amount"]):
        ids = sorted(g["doc_id"])
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                pairs.add((ids[i], ids[j]))
    return {"seconds": time.perf_counter() - t, "rows": len(ap), "pairs": sorted(pairs)}


def peer_dup_splink(inp):
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    ap = pd.read_csv(inp / "ap_invoices.csv", dtype=str, keep_default_na=False)
    t = time.perf_counter()
    df = ap[["doc_id", "vendor_id", "invoice_number", "amount", "invoice_date"]].rename(columns={"doc_id": "unique_id"})
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ExactMatch("vendor_id"),
            cl.JaroWinklerAtThresholds("invoice_number", [0.9, 0.7]),
            cl.ExactMatch("amount"),
            cl.ExactMatch("invoice_date"),
        ],
        blocking_rules_to_generate_predictions=[block_on("vendor_id", "amount"), block_on("vendor_id", "invoice_number")],
    )
    linker = Linker(df, settings, db_api=DuckDBAPI())
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("vendor_id"))
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    pairs = sorted(
        (*sorted((a, b)), float(p))
        for a, b, p in zip(pred["unique_id_l"], pred["unique_id_r"], pred["match_probability"])
    )
    return {"seconds": time.perf_counter() - t, "rows": len(ap), "pairs": pairs}


def journal_matrix(inp):
    import numpy as np
    import pandas as pd

    gl = pd.read_csv(inp / "gl_journal_lines.csv", dtype=str, keep_default_na=False)
    t = time.perf_counter()
    gl["amt"] = pd.to_numeric(gl["amount"]).abs()
    ts = pd.to_datetime(gl["created_at"], errors="coerce", utc=True)
    gl["hour"] = ts.dt.hour.fillna(-1).astype(int).astype(str)
    gl["weekday"] = pd.to_datetime(gl["posting_date"], errors="coerce").dt.weekday.fillna(-1).astype(int).astype(str)
    gl["key"] = gl["entity"] + "|" + gl["journal_id"]
    onehot = pd.get_dummies(gl[["account", "source", "preparer_id", "weekday", "hour"]], sparse=False).astype(np.float32)
    onehot["key"] = gl["key"].values
    x = onehot.groupby("key").max()
    x["lines"] = gl.groupby("key").size()
    x["log_amount"] = np.log1p(gl.groupby("key")["amt"].sum())
    return x, time.perf_counter() - t, len(gl)


def peer_journals(inp, which):
    x, prep, lines = journal_matrix(inp)
    t = time.perf_counter()
    if which == "iforest":
        from sklearn.ensemble import IsolationForest

        m = IsolationForest(n_estimators=200, random_state=0).fit(x.values)
        score = -m.score_samples(x.values)
    else:
        from pyod.models.ecod import ECOD

        m = ECOD().fit(x.values)
        score = m.decision_scores_
    return {
        "seconds": prep + time.perf_counter() - t,
        "rows": lines,
        "scores": dict(zip(x.index, map(float, score))),
    }


PEERS = {
    "cash_pandas": peer_cash,
    "duplicates_exact_key": peer_dup_exact,
    "duplicates_splink": peer_dup_splink,
    "journals_iforest": lambda i: peer_journals(i, "iforest"),
    "journals_ecod": lambda i: peer_journals(i, "ecod"),
}


# ---------------------------------------------------------------- scoring


def truth_of(inp):
    import pandas as pd

    t = inp / "truth"
    cm = pd.read_csv(t / "cash_matches.csv", dtype=str, keep_default_na=False)
    cash = cm.groupby("txn_id")["item_id"].agg(lambda s: sorted(s)).to_dict()
    dup = pd.read_csv(t / "ap_duplicates.csv", dtype=str, keep_default_na=False)
    dups = {tuple(sorted(p)) for p in zip(dup["doc_id_a"], dup["doc_id_b"])}
    ja = pd.read_csv(t / "journal_anomalies.csv", dtype=str, keep_default_na=False)
    anomalous = set(ja["entity"] + "|" + ja["journal_id"])
    return cash, dups, anomalous


def score_cash(cleared, truth):
    right = sum(1 for txn, items in cleared.items() if truth.get(txn) == sorted(items))
    return {
        "auto_precision": right / max(len(cleared), 1),
        "touchless": right / max(len(truth), 1),
    }


def score_pairs(pairs, truth):
    """Pairs (a, b) or (a, b, probability): with probabilities, the cut of
    SPLINK_CUTS with the best F1 on the truth (an upper bound for the peer,
    chosen on the rows it is scored on), and that cut."""
    def at(got):
        tp = len(got & truth)
        p = tp / max(len(got), 1)
        r = tp / max(len(truth), 1)
        return {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12)}

    if pairs and len(pairs[0]) == 3:
        best = max(
            ({**at({(a, b) for a, b, p in pairs if p >= cut}), "cut": cut} for cut in SPLINK_CUTS),
            key=lambda q: (q["f1"], q["cut"]),
        )
        return best
    return at({tuple(p) for p in pairs})


SPLINK_CUTS = [0.5, 0.9, 0.99, 0.999, 0.9999]


def score_journals(scores, anomalous):
    from sklearn.metrics import average_precision_score, roc_auc_score

    keys = sorted(scores)
    y = [k in anomalous for k in keys]
    s = [scores[k] for k in keys]
    return {"roc_auc": roc_auc_score(y, s), "average_precision": average_precision_score(y, s)}


# ---------------------------------------------------------------- driver


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    one = sub.add_parser("peer", help="run one peer (used by the driver)")
    one.add_argument("name", choices=sorted(PEERS))
    one.add_argument("input", type=Path)
    one.add_argument("result", type=Path)
    ap.add_argument("--reckon", type=Path, default=Path("target/release/reckon"))
    ap.add_argument("--scale", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=Path("/tmp/reckon-peers"))
    a = ap.parse_args()
    if a.cmd == "peer":
        a.result.write_text(json.dumps(PEERS[a.name](a.input)))
        return
    reckon = str(a.reckon)
    inp, out = a.out / "input", a.out / "reckon-out"
    subprocess.run([reckon, "--quiet", "generate", "--seed", str(a.seed), "--scale", str(a.scale), "--out", str(inp)],
                   check=True, stdout=subprocess.DEVNULL)
    wall, rss = wall_and_rss([reckon, "--quiet", "run", "--input", str(inp), "--out", str(out), "--no-deliver"],
                             a.out / "reckon-run.log")
    subprocess.run([reckon, "--quiet", "eval", "--truth", str(inp / "truth"), "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    figures = json.loads((out / "eval.json").read_text())["figures"]
    manifest = json.loads((out / "manifest.json").read_text())
    ms = manifest["timings_ms"]
    cash_truth, dup_truth, anomalous = truth_of(inp)
    import pandas as pd

    receipts = int((pd.to_numeric(pd.read_csv(inp / "bank_transactions.csv", usecols=["amount"])["amount"]) > 0).sum())
    invoices = len(pd.read_csv(inp / "ap_invoices.csv", usecols=["doc_id"]))
    lines = len(pd.read_csv(inp / "gl_journal_lines.csv", usecols=["journal_id"]))
    rows = []
    stage = lambda s, n, q: {"engine": s, "tool": "reckon", "rows": n, "seconds": ms[s] / 1000,
                             "rows_per_s": n / max(ms[s] / 1000, 1e-9), "peak_rss_gib": rss, "quality": q}
    rows.append(stage("cash", receipts, {"auto_precision": figures["cash.auto_precision"],
                                         "touchless": figures["cash.touchless"]}))
    rows.append(stage("duplicates", invoices, {"precision": figures["duplicates.precision"],
                                               "recall": figures["duplicates.recall"], "f1": figures["duplicates.f1"]}))
    rows.append(stage("journals", lines, {"roc_auc": figures["journals.roc_auc"],
                                          "average_precision": figures["journals.average_precision"]}))
    for name in sorted(PEERS):
        result = a.out / f"{name}.json"
        w, r = wall_and_rss([sys.executable, __file__, "peer", name, str(inp), str(result)], a.out / f"{name}.log")
        res = json.loads(result.read_text())
        engine = name.split("_")[0]
        if engine == "cash":
            q = score_cash(res["cleared"], cash_truth)
        elif engine == "duplicates":
            q = score_pairs(res["pairs"], dup_truth)
        else:
            q = score_journals(res["scores"], anomalous)
        rows.append({"engine": engine, "tool": name, "rows": res["rows"], "seconds": res["seconds"],
                     "rows_per_s": res["rows"] / max(res["seconds"], 1e-9), "process_seconds": w,
                     "peak_rss_gib": r, "quality": q})
    report = {"scale": a.scale, "seed": a.seed, "reckon_run_seconds": wall, "reckon_peak_rss_gib": rss, "rows": rows}
    (a.out / "peers.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"reckon run: {wall:.1f} s wall, {rss:.2f} GiB peak (the whole run, all stages)\n")
    print("| engine | tool | rows | seconds | rows/s | reckon ÷ peer | peak RSS (GiB) | quality |")
    print("|---|---|---|---|---|---|---|---|")
    mine = {r["engine"]: r["rows_per_s"] for r in rows if r["tool"] == "reckon"}
    for r in rows:
        ratio = "–" if r["tool"] == "reckon" else f"{mine[r['engine']] / r['rows_per_s']:.1f}×"
        q = ", ".join(f"{k} {v:.4f}" for k, v in r["quality"].items())
        print(f"| {r['engine']} | {r['tool']} | {r['rows']:,} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} | {ratio} "
              f"| {r['peak_rss_gib']:.2f} | {q} |")


if __name__ == "__main__":
    main()
