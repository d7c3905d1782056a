//! Standard Webhooks signatures: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
//! with `whsec_<base64 key>` secrets. Several secrets sign at once during a key
//! rotation (the header then carries one signature per secret, space-separated),
//! and a receiver accepts a message if any signature verifies with any of its keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{KeyInit, Mac};

use crate::FeedError;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A signing key. Its `Debug` never shows the key (secrets are not logged).
#[derive(Clone)]
pub struct Secret {
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(whsec_…, {} bytes)", self.key.len())
    }
}

impl Secret {
    /// Reads `whsec_<base64>` (the prefix is optional, as Standard Webhooks libraries accept).
    pub fn parse(text: &str) -> Result<Secret, FeedError> {
        let t = text.trim();
        let b = t.strip_prefix("whsec_").unwrap_or(t);
        let key = B64
            .decode(b)
            .map_err(|_| FeedError::Secret("a webhook secret must be whsec_ followed by base64".into()))?;
        if key.len() < 24 {
            return Err(FeedError::Secret(format!("webhook secret too short ({} bytes; at least 24)", key.len())));
        }
        Ok(Secret { key })
    }

    /// A secret from raw key bytes (tests, key generation).
    pub fn from_bytes(key: &[u8]) -> Secret {
        Secret { key: key.to_vec() }
    }

    /// The `whsec_…` text of this secret.
    pub fn expose(&self) -> String {
        format!("whsec_{}", B64.encode(&self.key))
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// Signs with every current secret (newest first): the `webhook-signature` value.
pub fn signature_header(secrets: &[Secret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|s| s.sign(msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// Why a received message was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("webhook-timestamp is not a number")]
    BadTimestamp,
    #[error("webhook-timestamp is {0} s away from now (tolerance {1} s)")]
    Stale(i64, i64),
    #[error("no signature matches")]
    NoMatch,
}

/// Verifies a message as a Standard Webhooks receiver does: the timestamp within
/// `tolerance_s` of `now`, and any `v1` signature equal (in constant time) to one
/// computed with any of `secrets`.
pub fn verify(
    secrets: &[Secret],
    msg_id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
    tolerance_s: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (now - ts).abs() > tolerance_s {
        return Err(VerifyError::Stale(now - ts, tolerance_s));
    }
    for s in secrets {
        let want = s.sign(msg_id, ts, body);
        for got in signatures.split_whitespace() {
            if got.starts_with("v1,") && constant_time_eq(got.as_bytes(), want.as_bytes()) {
                return Ok(());
            }
        }
    }
    Err(VerifyError::NoMatch)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The signing secrets: from the environment variable `env` (one or more
/// `whsec_…` separated by spaces, newest first, for rotation) or else from `file`
/// (one per line). Neither set is an error naming both.
pub fn load_secrets(env: &str, file: Option<&std::path::Path>) -> Result<Vec<Secret>, FeedError> {
    let text = match std::env::var(env) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => match file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| FeedError::Secret(format!("cannot read secret file {}: {e}", p.display())))?,
            None => {
                return Err(FeedError::Secret(format!(
                    "no webhook secret: set {env} (whsec_…) or name a secret_file in [feed.webhook]"
                )));
            }
        },
    };
    let secrets = text.split_whitespace().map(Secret::parse).collect::<Result<Vec<_>, _>>()?;
    if secrets.is_empty() {
        return Err(FeedError::Secret(format!("{env} / secret file holds no secret")));
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        let s = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_or_else(|e| panic!("{e}"));
        let sig = s.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_and_tampering() {
        let old = Secret::from_bytes(&[1u8; 32]);
        let new = Secret::from_bytes(&[2u8; 32]);
        let h = signature_header(&[new.clone(), old.clone()], "m1", 100, b"{}");
        assert_eq!(h.split(' ').count(), 2);
        assert_eq!(verify(std::slice::from_ref(&old), "m1", "100", &h, b"{}", 100, 300), Ok(()));
        assert_eq!(verify(std::slice::from_ref(&new), "m1", "100", &h, b"{}", 100, 300), Ok(()));
        assert_eq!(verify(std::slice::from_ref(&old), "m1", "100", &h, b"{ }", 100, 300), Err(VerifyError::NoMatch));
        assert_eq!(verify(std::slice::from_ref(&old), "m2", "100", &h, b"{}", 100, 300), Err(VerifyError::NoMatch));
        assert!(matches!(verify(&[old], "m1", "100", &h, b"{}", 1000, 300), Err(VerifyError::Stale(..))));
        assert!(!format!("{new:?}").contains("AgIC"), "Debug must not show the key");
    }
}
