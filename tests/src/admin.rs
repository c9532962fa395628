//! `/_testkit/*`: switches and logs tests can reach over HTTP (e.g. from Node). Not logged.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::server::{json_response, method_not_allowed, not_found};
use crate::state::{LoggedRequest, Shared};
use crate::util::Params;

/// Every access token issued so far (by either AS) expires now.
pub(crate) fn expire_all(ctx: &Shared) {
    let now = Instant::now();
    for t in ctx.lock().access.values_mut() {
        t.expires = now;
    }
    if let Some(second) = &ctx.second_as {
        expire_all(second);
    }
}

fn ok() -> Response {
    json_response(StatusCode::OK, &json!({"ok": true}))
}

fn flag(p: &Params, name: &str) -> Option<bool> {
    match p.get(name) {
        Some("1" | "true" | "on" | "second") => Some(true),
        Some("0" | "false" | "off" | "first") => Some(false),
        _ => None,
    }
}

pub(crate) fn route(ctx: &Shared, method: &Method, what: &str, query: &str) -> Response {
    let p = Params::parse(query);
    match (what, method.as_str()) {
        ("stats", "GET") => {
            let inner = ctx.lock();
            let requests: Vec<String> = inner.log.iter().map(LoggedRequest::line).collect();
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for r in &requests {
                *counts.entry(r.clone()).or_default() += 1;
            }
            json_response(
                StatusCode::OK,
                &json!({
                    "requests": requests,
                    "counts": counts,
                    "revoked": inner.revoked,
                    "revoked_grants": inner.grants.values().filter(|g| g.revoked).count(),
                    "scenario": ctx.scenario.name(),
                    "protocol": ctx.protocol.name(),
                    "switched": inner.switched,
                    "deny_all": inner.deny_all,
                }),
            )
        }
        ("dpop", "GET") => {
            let inner = ctx.lock();
            json_response(
                StatusCode::OK,
                &json!({
                    "as_nonce_challenges": inner.as_nonce_challenges,
                    "rs_nonce_challenges": inner.rs_nonce_challenges,
                    "proofs": inner.dpop_jtis.len(),
                }),
            )
        }
        ("requests", "GET") => {
            let inner = ctx.lock();
            let all: Vec<serde_json::Value> = inner
                .log
                .iter()
                .filter(|r| p.get("origin").is_none_or(|o| r.origin == o))
                .map(LoggedRequest::to_json)
                .collect();
            json_response(StatusCode::OK, &json!({"requests": all}))
        }
        ("expire", "POST") => {
            expire_all(ctx);
            ok()
        }
        ("clear-log", "POST") => {
            ctx.lock().log.clear();
            ok()
        }
        ("switch-as", "POST") => match flag(&p, "to") {
            Some(_) if ctx.second_origin.is_none() || ctx.scenario.second_listener().is_none() => {
                json_response(
                    StatusCode::CONFLICT,
                    &json!({"error": "this scenario has no second authorization server"}),
                )
            }
            Some(to_second) => {
                let after = p.get("after").map(str::parse::<u64>);
                let mut inner = ctx.lock();
                match after {
                    Some(Ok(n)) if to_second && n > 0 => inner.switch_after = Some(n),
                    Some(Err(_)) => {
                        return json_response(
                            StatusCode::BAD_REQUEST,
                            &json!({"error": "after must be a number"}),
                        )
                    }
                    _ => {
                        inner.switched = to_second;
                        inner.switch_after = None;
                    }
                }
                ok()
            }
            None => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "use ?to=second or ?to=first"}),
            ),
        },
        ("deny-all", "POST") => match flag(&p, "on") {
            Some(on) => {
                ctx.lock().deny_all = on;
                ok()
            }
            None => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "use ?on=true or ?on=false"}),
            ),
        },
        ("token-delay", "POST") => match p.get("ms").map(str::parse::<u64>) {
            Some(Ok(ms)) => {
                ctx.lock().token_delay_ms = ms;
                ok()
            }
            _ => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "use ?ms=N (milliseconds)"}),
            ),
        },
        // the grants without a browser (oauth/grants.rs): clients, keys, minted tokens
        (w, "POST") if w.starts_with("grants/") => {
            crate::oauth::grants::admin(ctx, &w["grants/".len()..], &p)
        }
        ("stats" | "requests", _) => method_not_allowed("GET, OPTIONS"),
        ("expire" | "clear-log" | "switch-as" | "deny-all" | "token-delay", _) => {
            method_not_allowed("POST, OPTIONS")
        }
        _ => not_found(),
    }
}
