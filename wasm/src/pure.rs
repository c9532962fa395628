//! Core's pure functions, exported as is so that JavaScript gets exactly the CLI's answers
//! (the shared vectors in tests/vectors/ check it) and custom flows can reuse them.

use crate::js::to_js_object;
use crate::js_error;
use crate::out::{object, opt_s, strings};
use js_sys::{Array, Object};
use mcp_auth_core::metadata::{
    authorization_server_metadata_urls, protected_resource_metadata_urls,
};
use mcp_auth_core::oauth::validate_callback;
use mcp_auth_core::pkce::{challenge_s256, verifier_is_valid};
use mcp_auth_core::www_authenticate::{bearer, parse_challenges};
use mcp_auth_core::PkceCodeVerifier;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(
        typescript_type = "{ scheme: string; token68: string | null; params: Record<string, string> }[]"
    )]
    pub type ChallengeList;
    #[wasm_bindgen(
        typescript_type = "{ resourceMetadata: string | null; scope: string | null; error: string | null; errorDescription: string | null } | null"
    )]
    pub type BearerChallengeJs;
}

/// The PKCE S256 code challenge of a verifier (RFC 7636).
#[wasm_bindgen(js_name = pkceChallenge)]
pub fn pkce_challenge(verifier: &str) -> String {
    challenge_s256(&PkceCodeVerifier::new(verifier))
}

/// Whether a string is a valid PKCE code verifier (43–128 unreserved characters).
#[wasm_bindgen(js_name = isValidPkceVerifier)]
pub fn is_valid_pkce_verifier(verifier: &str) -> bool {
    verifier_is_valid(verifier)
}

/// Header values from JS: an array of strings, read here rather than by wasm-bindgen's
/// `Vec<String>` conversion (which links its own vector glue, about 1 KB gzip; the lists
/// going out are `out::strings` for the same reason).
fn header_values(values: &Array) -> Result<Vec<String>, JsValue> {
    let wrong = || crate::invalid("the header values must be an array of strings");
    if !Array::is_array(values) {
        return Err(wrong());
    }
    let mut read = Vec::with_capacity(values.length() as usize);
    for v in values.iter() {
        read.push(v.as_string().ok_or_else(wrong)?);
    }
    Ok(read)
}

/// Every challenge in the `WWW-Authenticate` header values (RFC 9110 §11.6.1).
#[wasm_bindgen(js_name = parseWwwAuthenticate)]
pub fn parse_www_authenticate(
    #[wasm_bindgen(unchecked_param_type = "string[]")] headers: Array,
) -> Result<ChallengeList, JsValue> {
    let headers = header_values(&headers)?;
    let parsed = parse_challenges(headers.iter().map(String::as_str));
    let list = Array::new();
    for c in &parsed {
        // through JSON.parse: own data properties, a `__proto__` parameter too
        let params = to_js_object(&c.params).unwrap_or_else(|_| Object::new().into());
        list.push(&object(&[
            ("scheme", JsValue::from_str(&c.scheme)),
            ("token68", opt_s(&c.token68)),
            ("params", params),
        ]));
    }
    Ok(list.unchecked_into())
}

/// What the MCP client takes from the Bearer challenge, or `null` when there is none.
#[wasm_bindgen(js_name = bearerChallenge)]
pub fn bearer_challenge(
    #[wasm_bindgen(unchecked_param_type = "string[]")] headers: Array,
) -> Result<BearerChallengeJs, JsValue> {
    let headers = header_values(&headers)?;
    let out = match bearer(headers.iter().map(String::as_str)) {
        None => JsValue::NULL,
        Some(b) => object(&[
            ("resourceMetadata", opt_s(&b.resource_metadata)),
            ("scope", opt_s(&b.scope)),
            ("error", opt_s(&b.error)),
            ("errorDescription", opt_s(&b.error_description)),
        ]),
    };
    Ok(out.unchecked_into())
}

/// The protected resource metadata URLs to try, in order (RFC 9728).
#[wasm_bindgen(js_name = protectedResourceMetadataUrls, unchecked_return_type = "string[]")]
pub fn prm_urls(
    #[wasm_bindgen(js_name = serverUrl)] server_url: &str,
    #[wasm_bindgen(js_name = headerUrl)] header_url: Option<String>,
) -> Result<JsValue, JsValue> {
    protected_resource_metadata_urls(server_url, header_url.as_deref())
        .map(|urls| strings(&urls))
        .map_err(js_error)
}

/// The authorization server metadata URLs to try, in order (RFC 8414, OpenID Connect).
#[wasm_bindgen(js_name = authorizationServerMetadataUrls, unchecked_return_type = "string[]")]
pub fn as_urls(issuer: &str) -> Result<JsValue, JsValue> {
    authorization_server_metadata_urls(issuer)
        .map(|urls| strings(&urls))
        .map_err(js_error)
}

/// Checks a callback URL against the expected state and issuer (RFC 9207) and returns the
/// authorization code; throws an `Error` with the code (`state_mismatch`, `iss_mismatch`, …).
#[wasm_bindgen(js_name = validateCallback)]
pub fn validate_callback_js(
    #[wasm_bindgen(js_name = callbackUrl)] callback_url: &str,
    state: &str,
    issuer: &str,
    #[wasm_bindgen(js_name = issRequired)] iss_required: bool,
) -> Result<String, JsValue> {
    validate_callback(callback_url, state, issuer, iss_required)
        .map(|code| code.secret().to_string())
        .map_err(js_error)
}
