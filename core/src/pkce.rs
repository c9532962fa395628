//! PKCE (RFC 7636, S256 only) and the `state` value.

use crate::error::{Error, Result};
use crate::secret::PkceCodeVerifier;
use sha2::{Digest, Sha256};

/// `n` random bytes from the operating system (or the JS crypto API on wasm).
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(random_failed)?;
    Ok(buf)
}

/// getrandom's own description of the failure (the OS error) natively. In the browser and
/// Node build (`wasm32-unknown-unknown`) its one source is the platform's
/// `crypto.getRandomValues`, named instead: getrandom's error texts and its integer
/// formatting stay out of the package.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn random_failed(e: getrandom::Error) -> Error {
    Error::Invalid(format!("no secure random source: {e}"))
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn random_failed(_: getrandom::Error) -> Error {
    Error::Invalid(
        "no secure random source: this JavaScript environment's crypto.getRandomValues is missing or failed"
            .into(),
    )
}

/// A fresh verifier: 64 characters of base64url (all unreserved), 384 random bits.
pub fn new_verifier() -> Result<PkceCodeVerifier> {
    Ok(PkceCodeVerifier::new(crate::b64::url(random_bytes(48)?)))
}

/// The S256 challenge: BASE64URL(SHA256(ASCII(verifier))).
pub fn challenge_s256(verifier: &PkceCodeVerifier) -> String {
    crate::b64::url(Sha256::digest(verifier.secret().as_bytes()))
}

/// Whether a verifier meets RFC 7636 §4.1: 43 to 128 characters of [A-Za-z0-9-._~].
pub fn verifier_is_valid(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && crate::text::find_byte(v, |b| {
            !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        })
        .is_none()
}

/// A fresh `state`: 256 random bits, base64url.
pub fn new_state() -> Result<String> {
    Ok(crate::b64::url(random_bytes(32)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_values_are_valid_and_distinct() {
        let a = new_verifier().unwrap();
        let b = new_verifier().unwrap();
        assert!(verifier_is_valid(a.secret()));
        assert_ne!(a, b);
        assert!(new_state().unwrap().len() >= 22); // >= 128 bits
        assert_ne!(new_state().unwrap(), new_state().unwrap());
    }

    #[test]
    fn verifier_rules() {
        assert!(!verifier_is_valid(&"a".repeat(42)));
        assert!(verifier_is_valid(&"a".repeat(43)));
        assert!(verifier_is_valid(&"a".repeat(128)));
        assert!(!verifier_is_valid(&"a".repeat(129)));
        assert!(!verifier_is_valid(&format!("{}+", "a".repeat(50))));
    }
}
