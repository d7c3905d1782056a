//! Deterministic ids: a short hex digest of the parts that identify a thing.
//!
//! The same parts always give the same id, on every run and at every thread
//! count; parts are length-prefixed so that `("ab","c")` and `("a","bc")` differ.

use sha2::{Digest, Sha256};

/// `prefix` + the first 16 hex digits of SHA-256 over the length-prefixed parts.
pub fn stable_id(prefix: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    format!("{prefix}{}", hex::encode(&digest[..8]))
}

/// Hex SHA-256 of bytes (file hashes in the manifest).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_unambiguous() {
        assert_eq!(stable_id("x-", &["a", "b"]), stable_id("x-", &["a", "b"]));
        assert_ne!(stable_id("x-", &["ab", "c"]), stable_id("x-", &["a", "bc"]));
        assert_eq!(stable_id("x-", &["a"]).len(), 18);
    }
}
