"""What the conformance scripts share: running a command, the cache of what they
fetch, and fetching a package file from PyPI pinned by its sha256."""

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def cache_dir():
    d = Path(os.environ.get("RECKON_CONFORMANCE_CACHE", Path.home() / ".cache" / "reckon" / "conformance"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def fetch(py, spec, pattern, sha256, binary=False):
    """Downloads `spec` (an sdist, or a wheel when `binary`) with the venv's pip
    and returns the file matching `pattern`; exits when its sha256 is not `sha256`."""
    dl = Path(tempfile.mkdtemp())
    flags = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
    run([str(py), "-m", "pip", "download", "-q", "--no-deps", *flags, spec, "-d", str(dl)])
    f = next(dl.glob(pattern))
    digest = hashlib.sha256(f.read_bytes()).hexdigest()
    if digest != sha256:
        sys.exit(f"{f.name}: sha256 {digest}, expected {sha256}")
    return f
