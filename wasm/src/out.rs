//! Core's results as plain JS objects (`TokenInfo`, `TokenStatus`, `LogoutReport`,
//! `AuthorizationRequest`), built field by field: `None` is `null`, times are numbers.

use crate::js::set;
use js_sys::{Array, Object};
use mcp_auth_core::{AuthorizationRequest, LogoutReport, TokenInfo, TokenStatus};
use wasm_bindgen::JsValue;

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

pub(crate) fn opt_s(v: &Option<String>) -> JsValue {
    v.as_deref().map_or(JsValue::NULL, s)
}

fn opt_n(v: Option<u64>) -> JsValue {
    v.map_or(JsValue::NULL, |n| JsValue::from_f64(n as f64))
}

/// Strings as a JS array.
pub(crate) fn strings(list: &[String]) -> JsValue {
    let array = Array::new();
    for v in list {
        array.push(&s(v));
    }
    array.into()
}

/// An object with these fields, in this order.
pub(crate) fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        set(&o, k, v);
    }
    o.into()
}

/// `TokenInfo` (`redirected: false` first for `login`'s `LoginResult`).
pub(crate) fn token_info(i: &TokenInfo, redirected: Option<bool>) -> JsValue {
    let fields = [
        (
            "redirected",
            redirected.map_or(JsValue::UNDEFINED, Into::into),
        ),
        ("identity", s(&i.identity)),
        ("resource", s(&i.resource)),
        ("issuer", s(&i.issuer)),
        ("clientId", s(&i.client_id)),
        ("scope", opt_s(&i.scope)),
        ("expiresAt", opt_n(i.expires_at)),
        ("hasRefreshToken", i.has_refresh_token.into()),
        ("flow", opt_s(&i.flow)),
        ("dpopBound", i.dpop_bound.into()),
    ];
    // without `redirected` when there is none (`completeLogin`'s `TokenInfo`)
    object(&fields[usize::from(redirected.is_none())..])
}

pub(crate) fn token_status(t: &TokenStatus) -> JsValue {
    object(&[
        ("identity", s(&t.identity)),
        ("resource", opt_s(&t.resource)),
        ("present", t.present.into()),
        ("expired", t.expired.into()),
        ("expiresAt", opt_n(t.expires_at)),
        ("scope", opt_s(&t.scope)),
        ("issuer", opt_s(&t.issuer)),
        ("hasRefreshToken", t.has_refresh_token.into()),
        ("flow", opt_s(&t.flow)),
        ("dpopBound", t.dpop_bound.into()),
        ("problem", opt_s(&t.problem)),
    ])
}

pub(crate) fn logout_report(r: &LogoutReport) -> JsValue {
    object(&[
        ("identity", s(&r.identity)),
        ("revoked", strings(&r.revoked)),
        ("revocationNotes", strings(&r.revocation_notes)),
        ("deletedKeys", strings(&r.deleted_keys)),
    ])
}

pub(crate) fn authorization_request(r: &AuthorizationRequest) -> JsValue {
    object(&[
        ("authorizationUrl", s(&r.authorization_url)),
        ("redirectUri", s(&r.redirect_uri)),
        ("state", s(&r.state)),
        ("identity", s(&r.identity)),
    ])
}
