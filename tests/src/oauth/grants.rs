//! The grants without a browser, verified as a strict server does: client credentials
//! (a secret, or an RFC 7523 §2.2 `private_key_jwt` client assertion), the RFC 7523 §2.1
//! JWT-bearer grant with a workload token (SEP-1933) or an ID-JAG (SEP-990), and the
//! testkit's identity provider: RFC 8693 token exchange at `/idp/token`, turning its ID
//! tokens into ID-JAGs. Assertions are checked for signature, `aud` (the issuer, exactly),
//! `exp`, `iat`, `jti` (never twice) and, for client assertions, `iss` = `sub` = client id.

use std::collections::{HashMap, HashSet};

use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::jwt;
use super::token::{authenticate as secret_authenticate, bad_request, invalid_client, read_form};
use crate::server::json_response;
use crate::state::{AuthMethod, Client, Grant, Shared, StaticClient};
use crate::util::{basic_credentials, random_token, unix_now, Params};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const TOKEN_TYPE_ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";
/// The `iss` of the workload tokens the testkit mints (a platform the AS trusts).
pub const PLATFORM_ISSUER: &str = "https://platform.testkit.invalid";
/// The client id at the testkit's identity provider (the `aud` of its ID tokens).
pub const IDP_CLIENT_ID: &str = "testkit-idp-client";
/// How far in the future an `iat` may be.
const IAT_LEEWAY: u64 = 60;

/// What the grants need to remember.
#[derive(Default)]
pub struct GrantSetup {
    /// `private_key_jwt` clients: their public JWK.
    client_keys: HashMap<String, Value>,
    /// Every `jti` accepted, client assertions and grants alike.
    seen_jti: HashSet<String>,
    platform: Option<p256::ecdsa::SigningKey>,
    idp: Option<p256::ecdsa::SigningKey>,
    /// The MCP client the identity provider names in its ID-JAGs (SEP-990 §6.1).
    jag_client_id: Option<String>,
}

impl GrantSetup {
    fn platform(&mut self) -> &p256::ecdsa::SigningKey {
        self.platform.get_or_insert_with(jwt::new_key)
    }
    fn idp(&mut self) -> &p256::ecdsa::SigningKey {
        self.idp.get_or_insert_with(jwt::new_key)
    }
}

fn grant_types() -> Vec<String> {
    vec!["client_credentials".into(), JWT_BEARER.into()]
}

/// The issuer of the testkit identity provider's tokens.
pub fn idp_issuer(ctx: &Shared) -> String {
    ctx.as_endpoint("/idp")
}

/// A client that may use the grants without a browser (secret-based or public).
pub fn register_grant_client(ctx: &Shared, c: StaticClient) {
    let id = c.client_id.clone();
    ctx.add_client(c);
    if let Some(client) = ctx.lock().clients.get_mut(&id) {
        client.grant_types = grant_types();
    }
}

/// A `private_key_jwt` client with its public JWK.
pub fn register_key_client(ctx: &Shared, client_id: &str, public_jwk: Value) {
    register_grant_client(ctx, StaticClient::public(client_id, &[]));
    ctx.lock()
        .assertion_grants
        .client_keys
        .insert(client_id.to_string(), public_jwk);
}

/// Which MCP client the identity provider names in its ID-JAGs.
pub fn set_jag_client(ctx: &Shared, client_id: &str) {
    ctx.lock().assertion_grants.jag_client_id = Some(client_id.to_string());
}

/// A workload token from the trusted platform: `aud`, expiring `exp_in` seconds from now
/// (negative: already expired), with `jti` (random when `None`).
pub fn mint_workload_token(ctx: &Shared, aud: &str, exp_in: i64, jti: Option<&str>) -> String {
    let now = unix_now();
    let claims = json!({
        "iss": PLATFORM_ISSUER,
        "sub": "system:serviceaccount:testkit:workload",
        "aud": aud,
        "iat": now,
        "exp": now.saturating_add_signed(exp_in),
        "jti": jti.map(str::to_string).unwrap_or_else(|| random_token(16)),
    });
    let mut inner = ctx.lock();
    jwt::sign(
        inner.assertion_grants.platform(),
        json!({"typ": "JWT"}),
        &claims,
    )
}

/// An ID token of the testkit identity provider for `aud` (its client id there).
pub fn mint_id_token(ctx: &Shared, aud: &str, exp_in: i64) -> String {
    let now = unix_now();
    let claims = json!({
        "iss": idp_issuer(ctx),
        "sub": "alice@example.com",
        "email": "alice@example.com",
        "aud": aud,
        "iat": now,
        "exp": now.saturating_add_signed(exp_in),
    });
    let mut inner = ctx.lock();
    jwt::sign(inner.assertion_grants.idp(), json!({"typ": "JWT"}), &claims)
}

/// `aud` names `issuer` (a string, or an array holding it), compared exactly.
fn audience_is(claims: &Value, issuer: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(issuer)),
        _ => false,
    }
}

/// The time claims and the `jti`, the same for every assertion. The `jti` is recorded.
fn check_claims(ctx: &Shared, claims: &Value, issuer: &str) -> Result<(), String> {
    let now = unix_now();
    if !audience_is(claims, issuer) {
        return Err(format!(
            "the audience (aud {}) is not this authorization server's issuer {issuer}",
            claims.get("aud").cloned().unwrap_or(Value::Null)
        ));
    }
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp > now => {}
        Some(_) => return Err("the assertion has expired (exp)".into()),
        None => return Err("the assertion has no exp".into()),
    }
    if claims
        .get("iat")
        .and_then(Value::as_u64)
        .is_some_and(|iat| iat > now + IAT_LEEWAY)
    {
        return Err("the assertion was issued in the future (iat)".into());
    }
    let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
        return Err("the assertion has no jti".into());
    };
    if !ctx.lock().assertion_grants.seen_jti.insert(jti.to_string()) {
        return Err(format!(
            "the assertion was replayed (jti {jti} was seen before)"
        ));
    }
    Ok(())
}

/// Client authentication at `/token`: a client assertion when one is sent; otherwise the
/// secret-based methods, except that a `private_key_jwt` client must send its assertion.
pub(super) fn authenticate(
    ctx: &Shared,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Client, Response> {
    if p.get("client_assertion").is_none() && p.get("client_assertion_type").is_none() {
        let basic_id = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(basic_credentials)
            .and_then(Result::ok)
            .map(|(id, _)| id);
        let id = basic_id.as_deref().or(p.get("client_id"));
        if id.is_some_and(|id| ctx.lock().assertion_grants.client_keys.contains_key(id)) {
            return Err(invalid_client(
                "this client authenticates with private_key_jwt: send client_assertion",
            ));
        }
        return secret_authenticate(ctx, headers, p);
    }
    if p.get("client_assertion_type") != Some(CLIENT_ASSERTION_TYPE) {
        return Err(invalid_client(&format!(
            "client_assertion_type must be {CLIENT_ASSERTION_TYPE}"
        )));
    }
    if headers.contains_key(header::AUTHORIZATION) || p.get("client_secret").is_some() {
        return Err(bad_request(
            "invalid_request",
            "use only one client authentication method",
        ));
    }
    let Some(assertion) = p.get("client_assertion") else {
        return Err(invalid_client("client_assertion is missing"));
    };
    let (_, unverified) = jwt::decode(assertion).map_err(|e| invalid_client(&e))?;
    let Some(id) = unverified.get("sub").and_then(Value::as_str) else {
        return Err(invalid_client("the client assertion has no sub"));
    };
    if p.get("client_id").is_some_and(|c| c != id) {
        return Err(invalid_client(
            "client_id differs from the client assertion's sub",
        ));
    }
    let key = ctx.lock().assertion_grants.client_keys.get(id).cloned();
    let Some(key) = key else {
        return Err(invalid_client(&format!(
            "client {id} has no registered key for private_key_jwt"
        )));
    };
    let (_, claims) = jwt::verify(assertion, &key)
        .map_err(|e| invalid_client(&format!("client assertion: {e}")))?;
    if claims.get("iss").and_then(Value::as_str) != Some(id) {
        return Err(invalid_client(
            "the client assertion's iss must be the client id",
        ));
    }
    check_claims(ctx, &claims, &ctx.issuer())
        .map_err(|e| invalid_client(&format!("client assertion: {e}")))?;
    let client = ctx.lock().clients.get(id).cloned();
    client.ok_or_else(|| invalid_client(&format!("unknown client {id}")))
}

/// The requested scope, each one known; the resource, known.
fn scope_and_resource(ctx: &Shared, p: &Params) -> Result<(Vec<String>, String), Response> {
    let scope: Vec<String> = p
        .get("scope")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = scope
        .iter()
        .find(|s| !Shared::supported_scopes().contains(&s.as_str()))
    {
        return Err(bad_request(
            "invalid_scope",
            &format!("unknown scope {bad}"),
        ));
    }
    let resource = p
        .get("resource")
        .map(str::to_string)
        .unwrap_or_else(|| ctx.mcp_resource());
    if !ctx.is_known_resource(&resource) {
        return Err(bad_request(
            "invalid_target",
            &format!("unknown resource {resource}"),
        ));
    }
    Ok((scope, resource))
}

fn issue(
    ctx: &Shared,
    client: &Client,
    scope: Vec<String>,
    resource: String,
    jkt: Option<&str>,
) -> Response {
    let mut inner = ctx.lock();
    let grant = inner.next_grant;
    inner.next_grant += 1;
    inner.grants.insert(
        grant,
        Grant {
            scope: scope.clone(),
            resource: resource.clone(),
            revoked: false,
        },
    );
    super::token::issue_tokens(ctx, &mut inner, client, grant, scope, &resource, jkt)
}

/// `grant_type=client_credentials`: a confidential client only.
pub(super) fn client_credentials(
    ctx: &Shared,
    client: &Client,
    p: &Params,
    jkt: Option<&str>,
) -> Response {
    if !client.allows_grant("client_credentials") {
        return bad_request(
            "unauthorized_client",
            "this client may not use the client_credentials grant",
        );
    }
    let has_key = ctx
        .lock()
        .assertion_grants
        .client_keys
        .contains_key(&client.client_id);
    if client.auth_method == AuthMethod::None && !has_key {
        return bad_request(
            "unauthorized_client",
            "a public client cannot use the client_credentials grant",
        );
    }
    match scope_and_resource(ctx, p) {
        Ok((scope, resource)) => issue(ctx, client, scope, resource, jkt),
        Err(resp) => resp,
    }
}

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with a workload token from the
/// trusted platform or an ID-JAG from the testkit identity provider.
pub(super) fn jwt_bearer(ctx: &Shared, client: &Client, p: &Params, jkt: Option<&str>) -> Response {
    if !client.allows_grant(JWT_BEARER) {
        return bad_request(
            "unauthorized_client",
            "this client may not use the JWT-bearer grant",
        );
    }
    let Some(assertion) = p.get("assertion") else {
        return bad_request("invalid_request", "assertion is missing");
    };
    let invalid = |e: &str| bad_request("invalid_grant", e);
    let (header, unverified) = match jwt::decode(assertion) {
        Ok(x) => x,
        Err(e) => return invalid(&e),
    };
    let iss = unverified.get("iss").and_then(Value::as_str).unwrap_or("");
    let idp = idp_issuer(ctx);
    let is_jag = iss == idp;
    let key = {
        let mut inner = ctx.lock();
        if iss == PLATFORM_ISSUER {
            jwt::public_jwk(inner.assertion_grants.platform())
        } else if is_jag {
            jwt::public_jwk(inner.assertion_grants.idp())
        } else {
            return invalid(&format!("assertions from issuer {iss} are not trusted"));
        }
    };
    if is_jag && header.get("typ").and_then(Value::as_str) != Some(ID_JAG_TYP) {
        return invalid(&format!("an ID-JAG must have typ {ID_JAG_TYP}"));
    }
    let claims = match jwt::verify(assertion, &key) {
        Ok((_, c)) => c,
        Err(e) => return invalid(&format!("assertion: {e}")),
    };
    if let Err(e) = check_claims(ctx, &claims, &ctx.issuer()) {
        return invalid(&e);
    }
    if claims.get("sub").and_then(Value::as_str).is_none() {
        return invalid("the assertion has no sub");
    }
    let (scope, resource) = match scope_and_resource(ctx, p) {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    if is_jag {
        if claims.get("client_id").and_then(Value::as_str) != Some(client.client_id.as_str()) {
            return invalid("the ID-JAG was issued for another client (client_id)");
        }
        if claims.get("resource").and_then(Value::as_str) != Some(resource.as_str()) {
            return invalid("the ID-JAG is for another resource");
        }
    }
    issue(ctx, client, scope, resource, jkt)
}

/// `POST /idp/token`: the identity provider's RFC 8693 token exchange, an ID token of its
/// own for an ID-JAG naming this authorization server (SEP-990).
pub(super) async fn idp_token(ctx: &Shared, req: Request) -> Response {
    let (headers, p) = match read_form(req).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
        .and_then(Result::ok)
        .map(|(id, _)| id);
    if basic.as_deref().or(p.get("client_id")) != Some(IDP_CLIENT_ID) {
        return invalid_client(&format!(
            "unknown client at the identity provider (expected {IDP_CLIENT_ID})"
        ));
    }
    if p.get("grant_type") != Some(TOKEN_EXCHANGE) {
        return bad_request(
            "unsupported_grant_type",
            "the identity provider only does token exchange",
        );
    }
    if p.get("requested_token_type") != Some(TOKEN_TYPE_ID_JAG) {
        return bad_request(
            "invalid_request",
            &format!("requested_token_type must be {TOKEN_TYPE_ID_JAG}"),
        );
    }
    if p.get("subject_token_type") != Some(TOKEN_TYPE_ID_TOKEN) {
        return bad_request(
            "invalid_request",
            &format!("subject_token_type must be {TOKEN_TYPE_ID_TOKEN}"),
        );
    }
    let audience = p.get("audience").unwrap_or("");
    if audience != ctx.issuer() {
        return bad_request(
            "invalid_target",
            &format!("audience {audience} is not an authorization server this IdP knows"),
        );
    }
    let Some(resource) = p.get("resource").filter(|r| ctx.is_known_resource(r)) else {
        return bad_request("invalid_target", "resource is missing or unknown");
    };
    let Some(subject) = p.get("subject_token") else {
        return bad_request("invalid_request", "subject_token is missing");
    };
    let key = jwt::public_jwk(ctx.lock().assertion_grants.idp());
    let claims = match jwt::verify(subject, &key) {
        Ok((_, c)) => c,
        Err(e) => return bad_request("invalid_grant", &format!("ID token: {e}")),
    };
    let now = unix_now();
    if claims.get("iss").and_then(Value::as_str) != Some(idp_issuer(ctx).as_str())
        || claims.get("aud").and_then(Value::as_str) != Some(IDP_CLIENT_ID)
        || claims
            .get("exp")
            .and_then(Value::as_u64)
            .is_none_or(|e| e <= now)
    {
        return bad_request(
            "invalid_grant",
            "the ID token is expired or not issued for this client",
        );
    }
    let sub = claims.get("sub").cloned().unwrap_or(Value::Null);
    let mut inner = ctx.lock();
    let client_id = inner
        .assertion_grants
        .jag_client_id
        .clone()
        .unwrap_or_default();
    let mut jag = json!({
        "iss": idp_issuer(ctx),
        "sub": sub,
        "aud": audience,
        "client_id": client_id,
        "resource": resource,
        "iat": now,
        "exp": now + 300,
        "jti": random_token(16),
    });
    if let Some(s) = p.get("scope") {
        jag["scope"] = json!(s);
    }
    let token = jwt::sign(
        inner.assertion_grants.idp(),
        json!({"typ": ID_JAG_TYP}),
        &jag,
    );
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "issued_token_type": TOKEN_TYPE_ID_JAG,
            "token_type": "N_A",
            "expires_in": 300,
        }),
    )
}

/// `POST /_testkit/grants/<what>` for tests outside the process (Node):
/// `client?client_id=&client_secret=&method=` (a grant client; no secret: public),
/// `key-client?client_id=&jwk=` (private_key_jwt with that public JWK),
/// `workload-token?aud=&exp_in=&jti=`, `id-token?aud=&exp_in=` (answer `{"token": ...}`),
/// `id-jag-client?client_id=`.
pub(crate) fn admin(ctx: &Shared, what: &str, p: &Params) -> Response {
    let bad = |m: &str| json_response(StatusCode::BAD_REQUEST, &json!({"error": m}));
    let ok = |v: Value| json_response(StatusCode::OK, &v);
    let exp_in = match p.get("exp_in").map(str::parse::<i64>) {
        None => 300,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad("exp_in must be a number of seconds"),
    };
    let Some(id) = p.get("client_id").or(p.get("aud")) else {
        return bad("client_id (or aud) is missing");
    };
    match what {
        "client" => {
            let client = match (p.get("client_secret"), p.get("method")) {
                (None, _) => StaticClient::public(id, &[]),
                (Some(secret), method) => {
                    let Some(m) = AuthMethod::parse(method.unwrap_or("client_secret_basic")) else {
                        return bad("method is not client_secret_basic or client_secret_post");
                    };
                    StaticClient::confidential(id, secret, m, &[])
                }
            };
            register_grant_client(ctx, client);
            ok(json!({"ok": true}))
        }
        "key-client" => match p.get("jwk").map(serde_json::from_str::<Value>) {
            Some(Ok(jwk)) => {
                register_key_client(ctx, id, jwk);
                ok(json!({"ok": true}))
            }
            _ => bad("jwk must be the client's public JWK (JSON)"),
        },
        "workload-token" => {
            ok(json!({"token": mint_workload_token(ctx, id, exp_in, p.get("jti"))}))
        }
        "id-token" => ok(json!({
            "token": mint_id_token(ctx, id, exp_in),
            "idp_token_endpoint": ctx.as_endpoint("/idp/token"),
            "idp_client_id": IDP_CLIENT_ID,
        })),
        "id-jag-client" => {
            set_jag_client(ctx, id);
            ok(json!({"ok": true}))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "unknown grants admin"}),
        ),
    }
}
