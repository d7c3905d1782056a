//! Finding (or provisioning) the ONNX Runtime shared library and loading it once.
//!
//! Order: `ORT_DYLIB_PATH`; reckon's cache (`$RECKON_CACHE` or
//! `$XDG_CACHE_HOME/reckon` or `~/.cache/reckon`, folder
//! `onnxruntime-<version>/`); the Python `onnxruntime` package if its version is
//! the one pinned here; else `pip download` of the pinned wheel, checked against
//! its sha256, and only `libonnxruntime.so.<version>` extracted into the cache.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::OnnxError;

/// The ONNX Runtime version `ort` 2.0.0-rc.15 (API 31) is built for.
pub const VERSION: &str = "1.31.1";
/// The wheel provisioned on Linux x86_64 and its sha256 (the library inside is the
/// same in every CPython wheel of this version).
const WHEEL: &str = "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl";
const WHEEL_SHA256: &str = "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f";

fn lib_name() -> String {
    format!("libonnxruntime.so.{VERSION}")
}

/// reckon's cache folder.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("RECKON_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("reckon");
    }
    std::env::var_os("HOME")
        .map_or_else(|| std::env::temp_dir().join("reckon-cache"), |h| PathBuf::from(h).join(".cache/reckon"))
}

fn python() -> &'static str {
    if Command::new("python3").arg("--version").output().is_ok() { "python3" } else { "python" }
}

/// The Python package's library, if its version is ours.
fn from_python() -> Option<PathBuf> {
    let out = Command::new(python())
        .args([
            "-c",
            "import onnxruntime,os;print(onnxruntime.__version__);print(os.path.dirname(onnxruntime.__file__))",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines();
    let (ver, dir) = (lines.next()?.trim(), lines.next()?.trim());
    let p = Path::new(dir).join("capi").join(lib_name());
    (ver == VERSION && p.is_file()).then_some(p)
}

fn sha256_file(p: &Path) -> Option<String> {
    std::fs::read(p).ok().map(|b| reckon_core::id::sha256_hex(&b))
}

/// Downloads the pinned wheel with pip, checks it, extracts the library into `dest`.
fn provision(dest: &Path) -> Result<PathBuf, OnnxError> {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return Err(OnnxError::Runtime(format!(
            "no ONNX Runtime found and automatic provisioning only covers Linux x86_64: install onnxruntime=={VERSION} (pip) or set ORT_DYLIB_PATH to its library"
        )));
    }
    // A folder of this process's own: several reckon processes may provision at once
    // (the first to finish wins the rename; the others use its file).
    let tmp = dest.with_extension(format!("download-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| OnnxError::Runtime(format!("{}: {e}", tmp.display())))?;
    tracing::info!(version = VERSION, "provisioning ONNX Runtime from PyPI (pip download)");
    let out = Command::new(python())
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64"])
        .args(["--python-version", "3.11", "--implementation", "cp", "--quiet", "-d"])
        .arg(&tmp)
        .arg(format!("onnxruntime=={VERSION}"))
        .output()
        .map_err(|e| OnnxError::Runtime(format!("cannot run pip to fetch onnxruntime=={VERSION}: {e}")))?;
    let wheel = tmp.join(WHEEL);
    if !out.status.success() || !wheel.is_file() {
        return Err(OnnxError::Runtime(format!(
            "pip could not download onnxruntime=={VERSION} ({}); install it with pip or set ORT_DYLIB_PATH",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("no output")
        )));
    }
    let got = sha256_file(&wheel).unwrap_or_default();
    if got != WHEEL_SHA256 {
        return Err(OnnxError::Runtime(format!("{WHEEL} has sha256 {got}, expected {WHEEL_SHA256}: refused")));
    }
    let member = format!("onnxruntime/capi/{}", lib_name());
    let script = "import sys,zipfile;z=zipfile.ZipFile(sys.argv[1]);open(sys.argv[3],'wb').write(z.read(sys.argv[2]))";
    let target = tmp.join(lib_name());
    let ok = Command::new(python())
        .args(["-c", script])
        .arg(&wheel)
        .arg(&member)
        .arg(&target)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok || !target.is_file() {
        return Err(OnnxError::Runtime(format!("could not extract {member} from {WHEEL}")));
    }
    std::fs::create_dir_all(dest).map_err(|e| OnnxError::Runtime(format!("{}: {e}", dest.display())))?;
    let final_path = dest.join(lib_name());
    let moved = std::fs::rename(&target, &final_path);
    let _ = std::fs::remove_dir_all(&tmp);
    match moved {
        Ok(()) => Ok(final_path),
        Err(_) if final_path.is_file() => Ok(final_path),
        Err(e) => Err(OnnxError::Runtime(format!("{}: {e}", final_path.display()))),
    }
}

/// Where the library is, provisioning it if needed.
pub fn locate() -> Result<PathBuf, OnnxError> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(OnnxError::Runtime(format!("ORT_DYLIB_PATH={} is not a file", p.display())))
        };
    }
    let dir = cache_dir().join(format!("onnxruntime-{VERSION}"));
    let cached = dir.join(lib_name());
    if cached.is_file() {
        return Ok(cached);
    }
    if let Some(p) = from_python() {
        return Ok(p);
    }
    provision(&dir)
}

static ENV: OnceLock<Result<(PathBuf, ort::environment::Environment), String>> = OnceLock::new();

/// Loads ONNX Runtime once per process and returns its environment (later calls
/// return the first outcome).
pub fn env() -> Result<&'static ort::environment::Environment, OnnxError> {
    let r = ENV.get_or_init(|| {
        let path = locate().map_err(|e| e.to_string())?;
        let env = ort::init_from(&path)
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?
            .with_name("reckon")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", path.display()))?;
        tracing::info!(library = %path.display(), "ONNX Runtime loaded");
        Ok((path, env))
    });
    match r {
        Ok((_, env)) => Ok(env),
        Err(e) => Err(OnnxError::Runtime(e.clone())),
    }
}

/// The library in use (loading it if needed).
pub fn library() -> Result<PathBuf, OnnxError> {
    env()?;
    match ENV.get() {
        Some(Ok((p, _))) => Ok(p.clone()),
        _ => Err(OnnxError::Runtime("not loaded".into())),
    }
}
