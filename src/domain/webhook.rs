//! Webhook authentication, pure: the secret-token comparison and GitLab's signed webhooks
//! (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`,
//! HMAC-SHA256 over `"{id}.{timestamp}.{body}"` with the base64-decoded `whsec_` key).

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Signed webhooks more than this far from now are refused (replay protection).
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// Whether `token`'s SHA-256 equals `stored_hash` (hex), compared in constant time.
pub fn token_matches(token: &str, stored_hash: &str) -> bool {
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    hash.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// The HMAC key inside a `whsec_…` signing token.
pub fn signing_key_bytes(key: &str) -> Result<Vec<u8>, String> {
    let encoded = key
        .strip_prefix("whsec_")
        .ok_or("must start with `whsec_`")?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| "must be `whsec_` followed by base64".to_owned())?;
    if bytes.len() < 16 {
        return Err("is too short to be a signing key".into());
    }
    Ok(bytes)
}

/// Why a signed webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("webhook-timestamp is not a number")]
    BadTimestamp,
    #[error("webhook-timestamp is more than 5 minutes from now")]
    Stale,
    #[error("webhook-signature does not match")]
    Mismatch,
    #[error("the repository's signing key is invalid")]
    BadKey,
}

/// Verifies a Standard Webhooks signature at `now` (unix seconds).
pub fn verify_signature(
    key: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let key = signing_key_bytes(key).map_err(|_| SignatureError::BadKey)?;
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|_| SignatureError::BadKey)?;
    mac.update(format!("{id}.{}.", timestamp.trim()).as_bytes());
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    let ok = header
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|sig| bool::from(sig.as_slice().ct_eq(expected.as_slice())));
    if ok {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs like GitLab does (for tests and tooling).
pub fn sign(key: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = signing_key_bytes(key).unwrap_or_default();
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn tokens_match_their_hash_only() {
        let hash = hex::encode(Sha256::digest(b"bbwh_secret"));
        assert!(token_matches("bbwh_secret", &hash));
        assert!(!token_matches("bbwh_secreT", &hash));
        assert!(!token_matches("", &hash));
    }

    #[test]
    fn signatures_round_trip_and_tampering_is_caught() {
        let body = br#"{"object_kind":"merge_request"}"#;
        let sig = sign(KEY, "msg_1", 1_700_000_000, body);
        assert_eq!(
            verify_signature(KEY, "msg_1", "1700000000", body, &sig, 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            verify_signature(KEY, "msg_2", "1700000000", body, &sig, 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(KEY, "msg_1", "1700000000", b"{}", &sig, 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(KEY, "msg_1", "1700000000", body, &sig, 1_700_000_000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(KEY, "msg_1", "soon", body, &sig, 0),
            Err(SignatureError::BadTimestamp)
        );
        let several = format!("v1,AAAA {sig}");
        assert_eq!(
            verify_signature(KEY, "msg_1", "1700000000", body, &several, 1_700_000_000),
            Ok(())
        );
    }

    #[test]
    fn signing_keys_must_look_like_gitlabs() {
        assert!(signing_key_bytes(KEY).is_ok());
        assert!(signing_key_bytes("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(signing_key_bytes("whsec_!!!").is_err());
        assert!(signing_key_bytes("whsec_AAAA").is_err());
    }
}
