//! DPoP (RFC 9449) as a strict server checks it, in the `dpop` and `dpop-nonce` scenarios:
//! the proof (one `DPoP` header, `typ`, `alg` ES256, an embedded public P-256 `jwk`, the
//! signature by that key, `htm`, `htu`, `iat` within a minute, `jti` never seen before,
//! `ath` on resource requests), the key bound to a token (`cnf.jkt`, kept with the token),
//! and the nonces of `dpop-nonce`: both the authorization server and the resource server
//! demand their current nonce and rotate it on every success (a new `DPoP-Nonce` on the
//! answer), so a client that does not follow the rotation is challenged again.
//!
//! This is a verifier written separately from the client's proof builder (it shares no code
//! with `mcp-auth-core`), so a mistake in one shows up against the other.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::scenario::Scenario;
use crate::state::Shared;
use crate::util::{random_token, unix_now};

/// How far `iat` may be from the server's clock (seconds).
const IAT_WINDOW: u64 = 60;

/// Which server a nonce belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    As,
    Rs,
}

/// A proof that passed every check but the nonce.
#[derive(Debug, Clone)]
pub(crate) struct Proof {
    /// The RFC 7638 thumbprint of the key that signed it.
    pub jkt: String,
    pub nonce: Option<String>,
    pub ath: Option<String>,
}

fn decode_json(segment: &str, what: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| format!("the proof's {what} is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| format!("the proof's {what} is not JSON"))
}

fn str_member<'a>(v: &'a Value, name: &str, what: &str) -> Result<&'a str, String> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the proof's {what} has no `{name}` string"))
}

/// RFC 7638 thumbprint of a P-256 JWK: the required members, sorted, no whitespace.
pub(crate) fn thumbprint(crv: &str, x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// base64url(SHA-256(token)), the `ath` a proof for this token must carry.
pub(crate) fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Checks the request's proof for `method` and `url` (the URL without query). `Ok(None)`
/// when there is no `DPoP` header at all.
pub(crate) fn check_proof(
    ctx: &Shared,
    headers: &HeaderMap,
    method: &str,
    url: &str,
) -> Result<Option<Proof>, String> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("more than one DPoP header".into());
    }
    let jwt = value
        .to_str()
        .map_err(|_| "the DPoP header is not ASCII".to_string())?;
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the proof is not a compact JWS".into());
    };
    let head = decode_json(h, "header")?;
    if str_member(&head, "typ", "header")? != "dpop+jwt" {
        return Err("the proof's typ is not dpop+jwt".into());
    }
    if str_member(&head, "alg", "header")? != "ES256" {
        return Err("the proof's alg is not ES256 (the only one this server accepts)".into());
    }
    let jwk = head
        .get("jwk")
        .ok_or_else(|| "the proof has no jwk".to_string())?;
    if jwk.get("d").is_some() {
        return Err("the proof's jwk carries a private key".into());
    }
    if str_member(jwk, "kty", "jwk")? != "EC" || str_member(jwk, "crv", "jwk")? != "P-256" {
        return Err("the proof's jwk is not an EC P-256 key".into());
    }
    let (x, y) = (str_member(jwk, "x", "jwk")?, str_member(jwk, "y", "jwk")?);
    let mut sec1 = vec![4u8];
    for coord in [x, y] {
        let bytes = URL_SAFE_NO_PAD
            .decode(coord)
            .map_err(|_| "the proof's jwk coordinates are not base64url".to_string())?;
        if bytes.len() != 32 {
            return Err("the proof's jwk coordinates are not 32 bytes".into());
        }
        sec1.extend(bytes);
    }
    let key = VerifyingKey::from_sec1_bytes(&sec1)
        .map_err(|_| "the proof's jwk is not a point on P-256".to_string())?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| "the proof's signature is not a 64-byte ES256 signature".to_string())?;
    key.verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "the proof's signature does not verify with its jwk".to_string())?;
    let claims = decode_json(c, "claims")?;
    let jti = str_member(&claims, "jti", "claims")?;
    if jti.is_empty() {
        return Err("the proof's jti is empty".into());
    }
    if str_member(&claims, "htm", "claims")? != method {
        return Err(format!("the proof's htm is not {method}"));
    }
    if str_member(&claims, "htu", "claims")? != url {
        return Err(format!("the proof's htu is not {url}"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or_else(|| "the proof has no numeric iat".to_string())?;
    if iat.abs_diff(unix_now()) > IAT_WINDOW {
        return Err("the proof's iat is not within a minute of now".into());
    }
    if !ctx.lock().dpop_jtis.insert(jti.to_string()) {
        return Err("the proof's jti was used before (replay)".into());
    }
    Ok(Some(Proof {
        jkt: thumbprint("P-256", x, y),
        nonce: claims
            .get("nonce")
            .and_then(Value::as_str)
            .map(str::to_string),
        ath: claims
            .get("ath")
            .and_then(Value::as_str)
            .map(str::to_string),
    }))
}

/// The scenario demands nonces.
pub(crate) fn nonces_required(ctx: &Shared) -> bool {
    ctx.scenario == Scenario::DpopNonce
}

/// The current nonce of one server (created on first use).
pub(crate) fn current_nonce(ctx: &Shared, role: Role) -> String {
    let mut inner = ctx.lock();
    let slot = match role {
        Role::As => &mut inner.as_nonce,
        Role::Rs => &mut inner.rs_nonce,
    };
    slot.get_or_insert_with(|| random_token(12)).clone()
}

/// Whether the proof carries the server's current nonce (always true without nonces). A
/// miss is counted (the admin `dpop` view shows the challenges).
pub(crate) fn nonce_ok(ctx: &Shared, role: Role, proof: &Proof) -> bool {
    if !nonces_required(ctx) {
        return true;
    }
    let ok = proof.nonce.as_deref() == Some(current_nonce(ctx, role).as_str());
    if !ok {
        let mut inner = ctx.lock();
        match role {
            Role::As => inner.as_nonce_challenges += 1,
            Role::Rs => inner.rs_nonce_challenges += 1,
        }
    }
    ok
}

/// After a success: a new nonce for the next request, returned for the `DPoP-Nonce` header.
pub(crate) fn rotate(ctx: &Shared, role: Role) -> Option<String> {
    if !nonces_required(ctx) {
        return None;
    }
    let fresh = random_token(12);
    let mut inner = ctx.lock();
    match role {
        Role::As => inner.as_nonce = Some(fresh.clone()),
        Role::Rs => inner.rs_nonce = Some(fresh.clone()),
    }
    Some(fresh)
}

/// Adds `DPoP-Nonce` to a response.
pub(crate) fn with_nonce(mut resp: Response, nonce: Option<String>) -> Response {
    if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        resp.headers_mut().insert("dpop-nonce", v);
    }
    resp
}

/// The token endpoint's `use_dpop_nonce` answer (RFC 9449 §8).
pub(crate) fn as_nonce_challenge(ctx: &Shared) -> Response {
    let resp = crate::server::json_response(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({
            "error": "use_dpop_nonce",
            "error_description": "this authorization server needs a DPoP nonce",
        }),
    );
    with_nonce(resp, Some(current_nonce(ctx, Role::As)))
}

/// A resource server's 401 with a `DPoP` challenge (RFC 9449 §7.1, §9).
pub(crate) fn rs_challenge(ctx: &Shared, error: &str, description: &str) -> Response {
    let mut resp = crate::server::json_response(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({"error": error, "error_description": description}),
    );
    let value = format!(
        "DPoP error=\"{error}\", error_description=\"{}\", algs=\"ES256\"",
        description.replace('\\', "\\\\").replace('"', "\\\"")
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    if error == "use_dpop_nonce" {
        resp = with_nonce(resp, Some(current_nonce(ctx, Role::Rs)));
    }
    resp
}

/// Whether the scenario speaks DPoP at all.
pub(crate) fn enabled(ctx: &Shared) -> bool {
    matches!(ctx.scenario, Scenario::Dpop | Scenario::DpopNonce)
}
