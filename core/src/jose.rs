//! Compact JWS (RFC 7515) for the assertions and proofs this client signs: `private_key_jwt`
//! client assertions (RFC 7523) and DPoP proofs (RFC 9449).
//!
//! The signature itself is the job of a [`JwsSigner`]: a [`SigningKey`] held in memory (loaded
//! from PEM or a JWK, or generated), or a key the host keeps and only lets us use (a
//! non-extractable WebCrypto key). [`jws`] builds the token around whichever signs.
//! Two algorithms are supported: ES256 (P-256, SHA-256) and RS256 (RSASSA-PKCS1-v1_5, SHA-256).

use sha2::{Digest as _, Sha256};
use std::fmt;

use crate::error::{Error, Result};
use crate::json::{self, Json, Object};

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
    fn public_jwk(&self) -> Object;
    /// The JWS signature over `signing_input` (for ES256 the 64-byte `r || s` of RFC 7518
    /// §3.4, not DER).
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>>;
}

/// Builds a compact JWS: `header` (its `alg` is set from the signer, whatever it held) and
/// `claims`, each printed as compact JSON with the members of every object in sorted
/// (byte-wise lexicographic) key order, at every depth, and base64url-encoded, signed by
/// `signer`. The member order callers build in does not matter.
pub async fn jws<S: JwsSigner + ?Sized>(
    header: Object,
    claims: &Object,
    signer: &S,
) -> Result<String> {
    let header = header.with("alg", signer.alg().as_str());
    let header = json::print(&Json::Object(sorted(header)));
    let claims = json::print(&Json::Object(sorted(claims.clone())));
    let mut token = crate::b64::url(header);
    token.push('.');
    token.push_str(&crate::b64::url(claims));
    let signature = signer.sign(token.as_bytes()).await?;
    token.push('.');
    token.push_str(&crate::b64::url(signature));
    Ok(token)
}

/// `object` with its members in sorted (byte-wise lexicographic) key order, at every depth
/// (objects inside arrays too). The JOSE objects this client sends have always gone out in
/// that order (they used to be sorted maps), and servers see the same bytes whichever way an
/// object was built.
pub(crate) fn sorted(object: Object) -> Object {
    let mut members = Vec::with_capacity(object.len());
    for (k, v) in object {
        members.push((k, sorted_value(v)));
    }
    let mut members = Object::from_distinct(members);
    members.sort_keys();
    members
}

fn sorted_value(value: Json) -> Json {
    match value {
        Json::Object(o) => Json::Object(sorted(o)),
        Json::Array(items) => {
            let mut sorted_items = Vec::with_capacity(items.len());
            for item in items {
                sorted_items.push(sorted_value(item));
            }
            Json::Array(sorted_items)
        }
        other => other,
    }
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
pub fn jwk_thumbprint(jwk: &Object) -> Result<String> {
    // The members are inserted in lexicographic order and printed without whitespace:
    // exactly the canonical form.
    let canonical = match member(jwk, "kty")? {
        "EC" => Object::new()
            .with("crv", member(jwk, "crv")?)
            .with("kty", "EC")
            .with("x", member(jwk, "x")?)
            .with("y", member(jwk, "y")?),
        "RSA" => Object::new()
            .with("e", member(jwk, "e")?)
            .with("kty", "RSA")
            .with("n", member(jwk, "n")?),
        other => {
            return Err(key_error(format!(
                "no thumbprint for JWK key type `{}`",
                shown(other)
            )))
        }
    };
    let canonical = json::print(&Json::Object(canonical));
    Ok(crate::b64::url(Sha256::digest(canonical.as_bytes())))
}

pub(crate) fn member<'a>(jwk: &'a Object, name: &str) -> Result<&'a str> {
    jwk.get(name)
        .and_then(Json::as_str)
        .ok_or_else(|| key_error(format!("the JWK has no `{name}` string")))
}

/// Names from a key file shown in an error: short and printable, never key material.
pub(crate) fn shown(name: &str) -> String {
    crate::text::printable(name, 40)
}

pub(crate) fn key_error(message: String) -> Box<Error> {
    Error::SigningKey(message).boxed()
}

#[cfg(all(test, feature = "software-keys"))]
#[path = "jose_tests.rs"]
mod tests;
