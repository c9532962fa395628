//! Compact JWS as a strict server sees it: verifying ES256 and RS256 signatures against a
//! public JWK, and signing the testkit's own tokens (workload tokens, ID tokens, ID-JAGs)
//! with its ES256 keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::{Signer, Verifier};
use serde_json::{json, Value};

fn b64(part: &str, what: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("the JWT's {what} is not base64url"))
}

fn member<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the key has no `{name}`"))
}

/// The header and claims of `token`, unverified.
pub fn decode(token: &str) -> Result<(Value, Value), String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err("the assertion is not a compact JWS (three parts)".into());
    }
    let header: Value = serde_json::from_slice(&b64(parts[0], "header")?)
        .map_err(|_| "the JWT header is not JSON".to_string())?;
    let claims: Value = serde_json::from_slice(&b64(parts[1], "claims")?)
        .map_err(|_| "the JWT claims are not JSON".to_string())?;
    Ok((header, claims))
}

/// Verifies `token`'s signature with the public JWK `key` (EC P-256 → ES256, RSA → RS256;
/// the header's `alg` must be the key's). Returns header and claims.
pub fn verify(token: &str, key: &Value) -> Result<(Value, Value), String> {
    let (header, claims) = decode(token)?;
    let (input, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| "the assertion is not a compact JWS".to_string())?;
    let signature = b64(signature, "signature")?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    match (member(key, "kty")?, alg) {
        ("EC", "ES256") => {
            let mut point = vec![4u8];
            point.extend(b64(member(key, "x")?, "key x")?);
            point.extend(b64(member(key, "y")?, "key y")?);
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|_| "the registered EC key is invalid".to_string())?;
            let sig = p256::ecdsa::Signature::from_slice(&signature)
                .map_err(|_| "the ES256 signature is malformed".to_string())?;
            vk.verify(input.as_bytes(), &sig)
                .map_err(|_| "the signature does not verify".to_string())?;
        }
        ("RSA", "RS256") => {
            let n = b64(member(key, "n")?, "key n")?;
            let e = b64(member(key, "e")?, "key e")?;
            let bits = u32::try_from(n.len() * 8).map_err(|_| "key too large".to_string())?;
            let public = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice(&n, bits)
                    .map_err(|_| "the registered RSA key is invalid".to_string())?,
                rsa::BoxedUint::from_be_slice(&e, 64)
                    .map_err(|_| "the registered RSA key is invalid".to_string())?,
            )
            .map_err(|_| "the registered RSA key is invalid".to_string())?;
            let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
            let sig = rsa::pkcs1v15::Signature::try_from(signature.as_slice())
                .map_err(|_| "the RS256 signature is malformed".to_string())?;
            vk.verify(input.as_bytes(), &sig)
                .map_err(|_| "the signature does not verify".to_string())?;
        }
        (kty, alg) => {
            return Err(format!(
                "alg `{alg}` does not fit the registered {kty} key; the signature does not verify"
            ))
        }
    }
    Ok((header, claims))
}

/// A fresh P-256 key.
pub fn new_key() -> p256::ecdsa::SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        if getrandom::fill(&mut bytes).is_ok() {
            if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return k;
            }
        }
    }
}

/// The public JWK of `key`.
pub fn public_jwk(key: &p256::ecdsa::SigningKey) -> Value {
    let point = key.verifying_key().to_sec1_point(false);
    let coord = |c: Option<&[u8]>| URL_SAFE_NO_PAD.encode(c.unwrap_or_default());
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": coord(point.x().map(|x| x.as_slice())),
        "y": coord(point.y().map(|y| y.as_slice())),
    })
}

/// An ES256 JWS of `claims` with `header` (its `alg` set to ES256).
pub fn sign(key: &p256::ecdsa::SigningKey, mut header: Value, claims: &Value) -> String {
    header["alg"] = json!("ES256");
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}
