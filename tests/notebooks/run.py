#!/usr/bin/env python3
"""Executes every notebook in notebooks/ (nbclient, from PyPI) and fails on any error.

Installs pinned packages into a cached venv, then runs each notebook with its
folder as working directory and RECKON_OUT (a finished run on the bundled sample,
e.g. the demo's output), RECKON_TRUTH (its truth/), RECKON_BIN and
RECKON_NOTEBOOKS set. Executed copies go to --keep (CI: the target folder), not
back into the repository.

    python3 tests/notebooks/run.py --reckon target/debug/reckon --out reckon-out [--keep DIR]
"""

import argparse
import os
import pathlib
import subprocess
import sys

PINS = [
    "nbclient==0.10.2",
    "nbformat==5.10.4",
    "ipykernel==6.29.5",
    "polars==1.44.2",
    "pandas==2.2.3",
    "pyarrow==20.0.0",
    "matplotlib==3.10.3",
    "scikit-learn==1.6.1",
    "skl2onnx==1.20.0",
    "onnxruntime==1.31.1",
    "numpy<2.4",
]
ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
import pyenv  # noqa: E402

DRIVER = r'''
import sys, nbformat
from nbclient import NotebookClient
path, keep = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, keep)
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reckon", required=True)
    ap.add_argument("--out", required=True, help="output folder of a run on data/sample")
    ap.add_argument("--keep", default=None, help="folder for the executed notebooks")
    a = ap.parse_args()
    py = pyenv.venv("notebooks-venv", PINS)
    keep = pathlib.Path(a.keep or (ROOT / "target" / "notebooks"))
    keep.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        RECKON_OUT=str(pathlib.Path(a.out).resolve()),
        RECKON_TRUTH=str(ROOT / "data" / "sample" / "truth"),
        RECKON_BIN=str(pathlib.Path(a.reckon).resolve()),
        RECKON_NOTEBOOKS=str(ROOT / "notebooks"),
        MPLBACKEND="Agg",
    )
    failed = []
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for nb in notebooks:
        r = subprocess.run([py, "-c", DRIVER, nb, keep / nb.name, ROOT / "notebooks"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            failed.append(nb.name)
            print(f"notebook {nb.name}: FAILED\n{r.stderr[-4000:]}")
        else:
            print(f"notebook {nb.name}: executed ({keep / nb.name})")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
