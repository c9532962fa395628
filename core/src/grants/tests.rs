//! The grants' own rules on an in-memory host (end-to-end tests run the CLI against the
//! testkit): renewal without a refresh token, who refused, no retry, the issuer binding.

use super::*;
use crate::host::HttpResponse;
use crate::test_host::{json, MemHost};
use futures_util::FutureExt;
use serde_json::json as j;
use std::cell::Cell;
use std::rc::Rc;

const SERVER: &str = "https://mcp.example.com/mcp";
const AS: &str = "https://as.example.com";
const IDP: &str = "https://idp.example.com/token";

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    f.now_or_never().expect("the in-memory host never waits")
}

fn form(r: &crate::host::HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(r.body.as_deref().unwrap_or_default())
        .into_owned()
        .collect()
}

fn param(r: &crate::host::HttpRequest, name: &str) -> Option<String> {
    form(r).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A server, its authorization server (token answers from `token`) and an identity
/// provider (answers from `idp`).
fn host(
    token: impl Fn(&crate::host::HttpRequest) -> HttpResponse + 'static,
    idp: impl Fn(&crate::host::HttpRequest) -> HttpResponse + 'static,
) -> MemHost {
    MemHost::new(move |r| {
        let url = r.url.as_str();
        if url == SERVER {
            let mut resp = json(401, &j!({}));
            resp.headers.push((
                "www-authenticate".into(),
                "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:tools\"".into(),
            ));
            resp
        } else if url == "https://mcp.example.com/.well-known/oauth-protected-resource/mcp" {
            json(
                200,
                &j!({"resource": SERVER, "authorization_servers": [AS]}),
            )
        } else if url == format!("{AS}/.well-known/oauth-authorization-server") {
            json(
                200,
                &j!({"issuer": AS, "authorization_endpoint": format!("{AS}/authorize"),
                    "token_endpoint": format!("{AS}/token"),
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
                    "token_endpoint_auth_signing_alg_values_supported": ["ES256"]}),
            )
        } else if url == format!("{AS}/token") {
            token(r)
        } else if url == IDP {
            idp(r)
        } else {
            json(404, &j!({}))
        }
    })
}

fn counting_tokens() -> (
    Rc<Cell<u32>>,
    impl Fn(&crate::host::HttpRequest) -> HttpResponse,
) {
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    (count, move |_: &crate::host::HttpRequest| {
        c.set(c.get() + 1);
        json(
            200,
            &j!({"access_token": format!("at-{}", c.get()), "token_type": "Bearer",
                "expires_in": 600, "refresh_token": "should-be-dropped"}),
        )
    })
}

fn cc_options() -> AuthOptions {
    AuthOptions {
        grant: Grant::ClientCredentials,
        client_id: Some("svc".into()),
        client_secret: Some(ClientSecret::new("s3cret")),
        interactive: false,
        ..AuthOptions::default()
    }
}

#[test]
fn client_credentials_token_is_renewed_by_the_grant_when_due_and_only_then() {
    let (count, token) = counting_tokens();
    let auth = McpAuth::new(host(token, |_| json(500, &j!({}))));
    let opts = cc_options();
    let first = run(auth.valid_record_for(SERVER, &opts)).expect("first token");
    assert_eq!(first.access_token.secret(), "at-1");
    assert_eq!(first.flow.as_deref(), Some("client_credentials"));
    assert!(first.refresh_token.is_none(), "no refresh token is kept");
    assert_eq!(first.scope.as_deref(), Some("mcp:tools"));
    let sent = auth.host().sent.borrow().clone();
    let token_req = sent
        .iter()
        .find(|r| r.url.ends_with("/token"))
        .expect("sent");
    assert_eq!(
        param(token_req, "grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(param(token_req, "resource").as_deref(), Some(SERVER));
    assert!(token_req
        .header_value("authorization")
        .is_some_and(|h| h.starts_with("Basic ")));
    // fresh: no request at all
    auth.host().now.set(1100);
    let same = run(auth.valid_record_for(SERVER, &opts)).expect("stored");
    assert_eq!(same.access_token.secret(), "at-1");
    assert_eq!(count.get(), 1);
    // due: the grant runs again
    auth.host().now.set(1000 + 590);
    let renewed = run(auth.valid_record_for(SERVER, &opts)).expect("renewed");
    assert_eq!(renewed.access_token.secret(), "at-2");
    assert_eq!(count.get(), 2);
}

#[test]
fn a_token_another_process_already_renewed_is_used_instead_of_a_new_grant() {
    let (count, token) = counting_tokens();
    let auth = McpAuth::new(host(token, |_| json(500, &j!({}))));
    let opts = cc_options();
    let first = run(auth.valid_record_for(SERVER, &opts)).expect("first");
    let stale = AccessToken::new("an-older-token");
    let info =
        run(auth.grant_login(SERVER, &opts, Retry::default(), Some(&stale))).expect("reused");
    assert_eq!(count.get(), 1, "no second grant");
    assert_eq!(
        run(auth.token_record(SERVER))
            .expect("read")
            .expect("stored")
            .access_token,
        first.access_token
    );
    assert_eq!(info.flow.as_deref(), Some("client_credentials"));
}

#[test]
fn private_key_jwt_signs_an_assertion_for_the_issuer() {
    let (_, token) = counting_tokens();
    let auth = McpAuth::new(host(token, |_| json(500, &j!({}))));
    let key = crate::jose::SigningKey::parse(include_str!("../../../tests/vectors/keys/es256.pem"))
        .expect("key");
    let opts = AuthOptions {
        client_secret: None,
        client_key: Some(key),
        ..cc_options()
    };
    run(auth.valid_record_for(SERVER, &opts)).expect("token");
    let sent = auth.host().sent.borrow().clone();
    let req = sent
        .iter()
        .find(|r| r.url.ends_with("/token"))
        .expect("sent");
    assert!(req.header_value("authorization").is_none());
    assert_eq!(
        param(req, "client_assertion_type").as_deref(),
        Some(CLIENT_ASSERTION_TYPE)
    );
    let assertion = param(req, "client_assertion").expect("assertion");
    let claims: serde_json::Value = serde_json::from_slice(
        &crate::b64::url_decode(assertion.split('.').nth(1).expect("claims")).expect("b64"),
    )
    .expect("json");
    assert_eq!(claims["iss"], "svc");
    assert_eq!(claims["sub"], "svc");
    assert_eq!(claims["aud"], AS);
    assert_eq!(claims["exp"], 1000 + CLIENT_ASSERTION_LIFETIME);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 20));

    // an RS256 key where the server takes only ES256 is refused before anything is sent
    let auth = McpAuth::new(host(|_| json(500, &j!({})), |_| json(500, &j!({}))));
    let rsa = crate::jose::SigningKey::parse(include_str!("../../../tests/vectors/keys/rs256.pem"))
        .expect("key");
    let opts = AuthOptions {
        client_key: Some(rsa),
        ..opts
    };
    let e = run(auth.valid_record_for(SERVER, &opts)).expect_err("refused");
    assert_eq!(e.code(), "signing_key");
    assert!(e.to_string().contains("[ES256]"), "{e}");
    assert!(auth
        .host()
        .sent_urls()
        .iter()
        .all(|u| !u.ends_with("/token")));
}

/// The server's clock disagrees with ours about the client assertion (RFC 7523 §3): the
/// refusal says the assertion carries this machine's clock; a client secret's does not.
#[test]
fn a_refused_client_assertion_names_the_clock() {
    let refuse = |_: &crate::host::HttpRequest| {
        json(
            400,
            &j!({"error": "invalid_client", "error_description": "assertion iat is in the future"}),
        )
    };
    let key = crate::jose::SigningKey::parse(include_str!("../../../tests/vectors/keys/es256.pem"))
        .expect("key");
    let with_key = AuthOptions {
        client_secret: None,
        client_key: Some(key),
        ..cc_options()
    };
    let auth = McpAuth::new(host(refuse, |_| json(500, &j!({}))));
    let e = run(auth.valid_record_for(SERVER, &with_key)).expect_err("refused");
    assert_eq!(e.code(), "grant_refused");
    let text = e.to_string();
    assert!(
        text.contains(
            "assertion iat is in the future; the client assertion carries this machine's clock"
        ),
        "{text}"
    );
    let auth = McpAuth::new(host(refuse, |_| json(500, &j!({}))));
    let e = run(auth.valid_record_for(SERVER, &cc_options())).expect_err("refused");
    assert!(!e.to_string().contains("clock"), "{e}");
}

#[test]
fn a_refused_jwt_bearer_grant_names_the_authorization_server_and_is_not_retried() {
    let auth = McpAuth::new(host(
        |_| {
            json(
                400,
                &j!({"error": "invalid_grant", "error_description": "expired"}),
            )
        },
        |_| json(500, &j!({})),
    ));
    let opts = AuthOptions {
        grant: Grant::JwtBearer {
            assertion: AssertionSource::Value(Assertion::new("workload.jwt.here")),
        },
        client_id: Some("wl".into()),
        interactive: false,
        ..AuthOptions::default()
    };
    let req = crate::host::HttpRequest::post(SERVER, "application/json", b"{}".to_vec());
    let e = run(auth.authorized_request(SERVER, req, &opts)).expect_err("refused");
    assert_eq!(e.code(), "grant_refused");
    let text = e.to_string();
    assert!(
        text.contains("MCP authorization server `https://as.example.com`"),
        "{text}"
    );
    assert!(
        text.contains("invalid_grant") && text.contains("expired"),
        "{text}"
    );
    let tokens = auth
        .host()
        .sent_urls()
        .iter()
        .filter(|u| u.ends_with("/token"))
        .count();
    assert_eq!(tokens, 1, "no retry, no other grant");
    assert!(run(auth.token_record(SERVER)).expect("read").is_none());
}

#[test]
fn token_exchange_errors_name_the_identity_provider() {
    let auth = McpAuth::new(host(
        |_| json(500, &j!({})),
        |_| {
            json(
                400,
                &j!({"error": "invalid_grant", "error_description": "Invalid ID token"}),
            )
        },
    ));
    let opts = AuthOptions {
        grant: Grant::TokenExchange(Box::new(EnterpriseGrant {
            idp_token_endpoint: IDP.into(),
            idp_client_id: "idp-client".into(),
            idp_client_secret: None,
            id_token: AssertionSource::Value(Assertion::new("id.token.jwt")),
        })),
        client_id: Some("mcp-client".into()),
        client_secret: Some(ClientSecret::new("s")),
        ..AuthOptions::default()
    };
    let e = run(auth.valid_record_for(SERVER, &opts)).expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("identity provider at `https://idp.example.com/token`"),
        "{text}"
    );
    assert!(text.contains("Invalid ID token"), "{text}");
    let sent = auth.host().sent.borrow().clone();
    let exchange = sent.iter().find(|r| r.url == IDP).expect("exchange sent");
    assert_eq!(
        param(exchange, "requested_token_type").as_deref(),
        Some(TOKEN_TYPE_ID_JAG)
    );
    assert_eq!(param(exchange, "audience").as_deref(), Some(AS));
    assert_eq!(param(exchange, "resource").as_deref(), Some(SERVER));
    assert_eq!(
        param(exchange, "subject_token").as_deref(),
        Some("id.token.jwt")
    );
    assert!(sent
        .iter()
        .all(|r| !r.url.ends_with("as.example.com/token")));
}

#[test]
fn a_configured_issuer_other_than_the_discovered_one_gets_no_secret() {
    let (count, token) = counting_tokens();
    let auth = McpAuth::new(host(token, |_| json(500, &j!({}))));
    let opts = AuthOptions {
        issuer: Some("https://other-as.example.com".into()),
        ..cc_options()
    };
    let e = run(auth.valid_record_for(SERVER, &opts)).expect_err("refused");
    assert_eq!(e.code(), "configured_client_issuer");
    assert_eq!(count.get(), 0);
}

#[test]
fn an_unreadable_assertion_says_where_it_was_looked_for() {
    let auth = McpAuth::new(host(|_| json(500, &j!({})), |_| json(500, &j!({}))));
    let opts = AuthOptions {
        grant: Grant::JwtBearer {
            assertion: AssertionSource::File("/var/run/token".into()),
        },
        client_id: Some("wl".into()),
        ..AuthOptions::default()
    };
    let e = run(auth.valid_record_for(SERVER, &opts)).expect_err("unreadable");
    assert_eq!(e.code(), "assertion");
    assert!(e.to_string().contains("the file `/var/run/token`"), "{e}");
}

#[test]
fn client_assertion_bytes_are_pinned() {
    // Header and claims in sorted member order, no whitespace, integer times: the bytes
    // authorization servers have seen so far.
    let text = |token: &str, i: usize| {
        String::from_utf8(
            crate::b64::url_decode(token.split('.').nth(i).expect("segment")).expect("b64"),
        )
        .expect("utf-8")
    };
    for (pem, alg) in [
        (
            include_str!("../../../tests/vectors/keys/es256.pem"),
            "ES256",
        ),
        (
            include_str!("../../../tests/vectors/keys/rs256.pem"),
            "RS256",
        ),
    ] {
        let key = crate::jose::SigningKey::parse(pem).expect("key");
        let token = run(client_assertion(&key, "svc \"1\"", AS, 1_700_000_000)).expect("signed");
        assert_eq!(text(&token, 0), format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        let claims: serde_json::Value =
            serde_json::from_str(&text(&token, 1)).expect("claims JSON");
        let jti = claims["jti"].as_str().expect("jti");
        assert_eq!(
            text(&token, 1),
            format!(
                r#"{{"aud":"{AS}","exp":1700000060,"iat":1700000000,"iss":"svc \"1\"","jti":"{jti}","sub":"svc \"1\""}}"#
            )
        );
    }
}
