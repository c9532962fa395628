//! The testkit's DPoP servers (`dpop`, `dpop-nonce`) judge proofs strictly: hand-made proofs,
//! each with one defect, are refused at the token endpoint and the resource server, bound
//! tokens and refresh tokens need their key, and nonces are demanded and rotated.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{authorize, http, initialize, register_public, AuthUrl};
use mcp_auth_testkit::{Scenario, TestServer};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn new_key() -> SigningKey {
    loop {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).expect("random");
        if let Ok(k) = SigningKey::from_slice(&b) {
            return k;
        }
    }
}

fn jwk(key: &SigningKey) -> Value {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({"kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]), "y": URL_SAFE_NO_PAD.encode(&bytes[33..65])})
}

fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A proof signed by `key`; `tweak` changes the header or the claims before signing.
fn proof(
    key: &SigningKey,
    htm: &str,
    htu: &str,
    token: Option<&str>,
    nonce: Option<&str>,
    tweak: impl FnOnce(&mut Value, &mut Value),
) -> String {
    let mut jti = [0u8; 12];
    getrandom::fill(&mut jti).expect("random");
    let mut header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk(key)});
    let mut claims =
        json!({"jti": URL_SAFE_NO_PAD.encode(jti), "htm": htm, "htu": htu, "iat": now()});
    if let Some(t) = token {
        claims["ath"] = json!(ath(t));
    }
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    tweak(&mut header, &mut claims);
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

struct Answer {
    status: u16,
    body: Value,
    challenge: String,
    nonce: Option<String>,
}

async fn token_call(s: &TestServer, form: &[(&str, &str)], dpop: Option<String>) -> Answer {
    let mut req = http().post(format!("{}/token", s.issuer())).form(form);
    if let Some(p) = dpop {
        req = req.header("dpop", p);
    }
    answer(req.send().await.expect("token")).await
}

async fn answer(resp: reqwest::Response) -> Answer {
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (challenge, nonce) = (
        header("www-authenticate").unwrap_or_default(),
        header("dpop-nonce"),
    );
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        challenge,
        nonce,
    }
}

async fn mcp_call(s: &TestServer, authorization: &str, dpop: Option<String>) -> Answer {
    let mut req = http()
        .post(s.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .header("authorization", authorization)
        .json(&initialize());
    if let Some(p) = dpop {
        req = req.header("dpop", p);
    }
    answer(req.send().await.expect("mcp")).await
}

/// A code for a fresh public client, ready to exchange.
async fn code(s: &TestServer) -> (AuthUrl, String) {
    let client_id = register_public(s).await;
    let a = AuthUrl::new(s, &client_id);
    let code = authorize(s, &a).await;
    (a, code)
}

fn code_form<'a>(a: &'a AuthUrl, code: &'a str, resource: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &a.redirect_uri),
        ("client_id", &a.client_id),
        ("code_verifier", &a.verifier),
        ("resource", resource),
    ]
}

#[tokio::test]
async fn tokens_are_bound_to_the_proof_key_and_need_it_at_the_resource_server() {
    let s = TestServer::start(Scenario::Dpop);
    let (_, meta) = common::get_json(&format!(
        "{}/.well-known/oauth-authorization-server",
        s.issuer()
    ))
    .await;
    assert_eq!(meta["dpop_signing_alg_values_supported"], json!(["ES256"]));
    let token_url = format!("{}/token", s.issuer());
    let mcp = s.mcp_url();
    let key = new_key();

    // a bad proof at the token endpoint is refused without spending the code
    let (a, c) = code(&s).await;
    let form = code_form(&a, &c, &mcp);
    let bad = proof(
        &key,
        "POST",
        &format!("{token_url}x"),
        None,
        None,
        |_, _| {},
    );
    let r = token_call(&s, &form, Some(bad)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let good = proof(&key, "POST", &token_url, None, None, |_, _| {});
    let r = token_call(&s, &form, Some(good.clone())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "DPoP");
    let token = r.body["access_token"].as_str().expect("token").to_string();
    let rt = r.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();

    // the resource server: the right proof passes, every defect is refused
    let ok = mcp_call(
        &s,
        &format!("DPoP {token}"),
        Some(proof(&key, "POST", &mcp, Some(&token), None, |_, _| {})),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.challenge);
    let other = new_key();
    let replayed = proof(&key, "POST", &mcp, Some(&token), None, |_, _| {});
    assert_eq!(
        mcp_call(&s, &format!("DPoP {token}"), Some(replayed.clone()))
            .await
            .status,
        200
    );
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("as a bearer token", format!("Bearer {token}"), None),
        ("without a proof", format!("DPoP {token}"), None),
        ("a replayed proof", format!("DPoP {token}"), Some(replayed)),
        (
            "another key's proof",
            format!("DPoP {token}"),
            Some(proof(&other, "POST", &mcp, Some(&token), None, |_, _| {})),
        ),
        (
            "the wrong htu",
            format!("DPoP {token}"),
            Some(proof(
                &key,
                "POST",
                &format!("{mcp}/x"),
                Some(&token),
                None,
                |_, _| {},
            )),
        ),
        (
            "the wrong htm",
            format!("DPoP {token}"),
            Some(proof(&key, "GET", &mcp, Some(&token), None, |_, _| {})),
        ),
        (
            "no ath",
            format!("DPoP {token}"),
            Some(proof(&key, "POST", &mcp, None, None, |_, _| {})),
        ),
        (
            "the wrong ath",
            format!("DPoP {token}"),
            Some(proof(&key, "POST", &mcp, Some("other"), None, |_, _| {})),
        ),
        (
            "a stale iat",
            format!("DPoP {token}"),
            Some(proof(&key, "POST", &mcp, Some(&token), None, |_, c| {
                c["iat"] = json!(now() - 600)
            })),
        ),
        (
            "no jti",
            format!("DPoP {token}"),
            Some(proof(&key, "POST", &mcp, Some(&token), None, |_, c| {
                c.as_object_mut().map(|o| o.remove("jti"));
            })),
        ),
        (
            "typ JWT",
            format!("DPoP {token}"),
            Some(proof(&key, "POST", &mcp, Some(&token), None, |h, _| {
                h["typ"] = json!("JWT")
            })),
        ),
        (
            "alg none",
            format!("DPoP {token}"),
            Some(proof(&key, "POST", &mcp, Some(&token), None, |h, _| {
                h["alg"] = json!("none")
            })),
        ),
        (
            "a private jwk",
            format!("DPoP {token}"),
            Some(proof(&key, "POST", &mcp, Some(&token), None, |h, _| {
                h["jwk"]["d"] = json!("AAAA")
            })),
        ),
        (
            "a jwk that did not sign",
            format!("DPoP {token}"),
            Some(proof(&key, "POST", &mcp, Some(&token), None, |h, _| {
                h["jwk"] = jwk(&other)
            })),
        ),
    ];
    for (what, authorization, dpop) in cases {
        let r = mcp_call(&s, &authorization, dpop).await;
        assert_eq!(r.status, 401, "{what}: {}", r.challenge);
    }

    // the public client's refresh token is bound too
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", a.client_id.as_str()),
    ];
    let r = token_call(&s, &refresh, None).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let r = token_call(
        &s,
        &refresh,
        Some(proof(&other, "POST", &token_url, None, None, |_, _| {})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let r = token_call(
        &s,
        &refresh,
        Some(proof(&key, "POST", &token_url, None, None, |_, _| {})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "DPoP");

    // without a proof the server issues a plain bearer token
    let (a, c) = code(&s).await;
    let r = token_call(&s, &code_form(&a, &c, &mcp), None).await;
    assert_eq!(
        (r.status, r.body["token_type"].as_str()),
        (200, Some("Bearer"))
    );
}

#[tokio::test]
async fn both_servers_demand_their_nonce_and_rotate_it() {
    let s = TestServer::start(Scenario::DpopNonce);
    let token_url = format!("{}/token", s.issuer());
    let mcp = s.mcp_url();
    let key = new_key();
    let (a, c) = code(&s).await;
    let form = code_form(&a, &c, &mcp);
    let r = token_call(
        &s,
        &form,
        Some(proof(&key, "POST", &token_url, None, None, |_, _| {})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    let n1 = r.nonce.expect("a DPoP-Nonce with the challenge");
    let r = token_call(
        &s,
        &form,
        Some(proof(&key, "POST", &token_url, None, Some(&n1), |_, _| {})),
    )
    .await;
    assert_eq!(r.status, 200, "the code survived the challenge: {}", r.body);
    let n2 = r.nonce.expect("a new nonce on success");
    assert_ne!(n1, n2, "rotated");
    let token = r.body["access_token"].as_str().expect("token").to_string();

    let rs = |nonce: Option<&str>| proof(&key, "POST", &mcp, Some(&token), nonce, |_, _| {});
    let r = mcp_call(&s, &format!("DPoP {token}"), Some(rs(None))).await;
    assert_eq!(r.status, 401);
    assert!(
        r.challenge.starts_with("DPoP ") && r.challenge.contains("use_dpop_nonce"),
        "{}",
        r.challenge
    );
    let m1 = r.nonce.expect("the RS's nonce");
    let r = mcp_call(&s, &format!("DPoP {token}"), Some(rs(Some(&m1)))).await;
    assert_eq!(r.status, 200, "{}", r.challenge);
    let m2 = r.nonce.expect("a new RS nonce on success");
    assert_ne!(m1, m2);
    // the old nonce no longer works; the new one does
    assert_eq!(
        mcp_call(&s, &format!("DPoP {token}"), Some(rs(Some(&m1))))
            .await
            .status,
        401
    );
    assert_eq!(s.dpop_nonce_challenges(), (1, 2));
}
