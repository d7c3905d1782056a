"""A cached virtual environment with pinned PyPI packages, for the Python checks in CI.

    python = pyenv.venv("sklearn-venv", ["scikit-learn==1.6.1", ...])

The venv lives in $RECKON_CACHE (default ~/.cache/reckon)/<name> and is rebuilt
when the pins change.
"""

import os
import pathlib
import subprocess
import venv as _venv


def venv(name, pins):
    cache = pathlib.Path(os.environ.get("RECKON_CACHE", pathlib.Path.home() / ".cache" / "reckon")) / name
    py = cache / "bin" / "python"
    stamp = cache / "pins.txt"
    if not py.exists() or not stamp.exists() or stamp.read_text() != "\n".join(pins):
        _venv.create(cache, with_pip=True, clear=True)
        subprocess.run([py, "-m", "pip", "install", "--quiet", *pins], check=True, stdout=subprocess.DEVNULL)
        stamp.write_text("\n".join(pins))
    return py
