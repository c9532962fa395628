//! Compact JWS (RFC 7515) for the assertions and proofs this client signs: `private_key_jwt`
//! client assertions (RFC 7523) and DPoP proofs (RFC 9449).
//!
//! The signature itself is the job of a [`JwsSigner`]: a [`SigningKey`] held in memory (loaded
//! from PEM or a JWK, or generated), or a key the host keeps and only lets us use (a
//! non-extractable WebCrypto key). [`jws`] builds the token around whichever signs.
//! Two algorithms are supported: ES256 (P-256, SHA-256) and RS256 (RSASSA-PKCS1-v1_5, SHA-256).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use std::fmt;

use crate::error::{Error, Result};

/// A JWS algorithm this client can sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// ECDSA with P-256 and SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }

    /// Reads an algorithm name as JOSE spells it (`ES256`, `RS256`).
    pub fn parse(name: &str) -> Result<Alg> {
        match name {
            "ES256" => Ok(Alg::Es256),
            "RS256" => Ok(Alg::Rs256),
            other => Err(key_error(format!(
                "{} is not supported; use ES256 or RS256",
                shown(other)
            ))),
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that signs a JWS signing input. A key in memory ([`SigningKey`]) is one; a key
/// the host holds and will not export is another. Futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait JwsSigner {
    /// The algorithm the signature uses (the `alg` header).
    fn alg(&self) -> Alg;
    /// The public key as a JWK (members of RFC 7518 §6, no private parts).
    fn public_jwk(&self) -> Map<String, Value>;
    /// The JWS signature over `signing_input` (for ES256 the 64-byte `r || s` of RFC 7518
    /// §3.4, not DER).
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>>;
}

/// Builds a compact JWS: `header` (its `alg` is set from the signer, whatever it held) and
/// `claims`, each serialized as JSON and base64url-encoded, signed by `signer`.
pub async fn jws<S: JwsSigner + ?Sized>(
    header: Map<String, Value>,
    claims: &Value,
    signer: &S,
) -> Result<String> {
    let mut header = header;
    header.insert("alg".into(), Value::String(signer.alg().as_str().into()));
    let header = serde_json::to_vec(&Value::Object(header))
        .map_err(|e| Error::Invalid(format!("JWS header: {e}")))?;
    let claims =
        serde_json::to_vec(claims).map_err(|e| Error::Invalid(format!("JWS claims: {e}")))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let signature = signer.sign(token.as_bytes()).await?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}

#[cfg(feature = "software-keys")]
#[path = "jose_keys.rs"]
mod keys;
#[cfg(not(feature = "software-keys"))]
#[path = "jose_nokeys.rs"]
mod keys;
#[cfg(not(feature = "software-keys"))]
pub use keys::HostKey;
pub use keys::SigningKey;

/// The RFC 7638 JWK thumbprint (`jkt`): SHA-256 over the required members of the public
/// key, in lexicographic order and without whitespace, base64url-encoded.
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Result<String> {
    // The structs' fields are declared in lexicographic order; serde_json writes them in
    // that order with no whitespace, which is exactly the canonical form.
    #[derive(Serialize)]
    struct Ec<'a> {
        crv: &'a str,
        kty: &'a str,
        x: &'a str,
        y: &'a str,
    }
    #[derive(Serialize)]
    struct Rsa<'a> {
        e: &'a str,
        kty: &'a str,
        n: &'a str,
    }
    let canonical = match member(jwk, "kty")? {
        "EC" => serde_json::to_vec(&Ec {
            crv: member(jwk, "crv")?,
            kty: "EC",
            x: member(jwk, "x")?,
            y: member(jwk, "y")?,
        }),
        "RSA" => serde_json::to_vec(&Rsa {
            e: member(jwk, "e")?,
            kty: "RSA",
            n: member(jwk, "n")?,
        }),
        other => {
            return Err(key_error(format!(
                "no thumbprint for JWK key type `{}`",
                shown(other)
            )))
        }
    }
    .map_err(|e| Error::Invalid(format!("JWK thumbprint: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(&canonical)))
}

pub(crate) fn member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| key_error(format!("the JWK has no `{name}` string")))
}

/// Names from a key file shown in an error: short and printable, never key material.
pub(crate) fn shown(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).take(40).collect();
    name
}

pub(crate) fn key_error(message: String) -> Error {
    Error::SigningKey(message)
}

#[cfg(all(test, feature = "software-keys"))]
#[path = "jose_tests.rs"]
mod tests;
