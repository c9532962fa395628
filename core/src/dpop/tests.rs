use super::*;
use crate::metadata::AuthServerMetadata;
use crate::test_host::{json, MemHost};
use futures_util::FutureExt;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{json as j, Value};

const ID: &str = "https://mcp.example.com";

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    f.now_or_never().expect("the in-memory host never waits")
}

fn part(jwt: &str, i: usize) -> Value {
    let seg = jwt.split('.').nth(i).expect("segment");
    serde_json::from_slice(&crate::b64::url_decode(seg).expect("b64")).expect("json")
}

/// Verifies a proof the way a strict server does, with the key it embeds.
fn verify(jwt: &str) -> (Value, Value) {
    let header = part(jwt, 0);
    let claims = part(jwt, 1);
    let jwk: PublicJwk = crate::json::from_value(header["jwk"].clone()).expect("jwk");
    let mut sec1 = vec![4u8];
    sec1.extend(crate::b64::url_decode(&jwk.x).expect("x"));
    sec1.extend(crate::b64::url_decode(&jwk.y).expect("y"));
    let vk = VerifyingKey::from_sec1_bytes(&sec1).expect("point");
    let (input, sig) = jwt.rsplit_once('.').expect("sig");
    let sig = Signature::from_slice(&crate::b64::url_decode(sig).expect("b64")).expect("sig");
    vk.verify(input.as_bytes(), &sig)
        .expect("signature verifies");
    (header, claims)
}

#[test]
fn modes_follow_the_metadata() {
    let mut meta = AuthServerMetadata {
        issuer: "https://as".into(),
        ..Default::default()
    };
    assert!(!use_dpop(DpopMode::Auto, &meta).unwrap());
    let e = use_dpop(DpopMode::Required, &meta).unwrap_err();
    assert_eq!(e.code(), "dpop_unsupported");
    assert!(e.to_string().contains("absent"), "{e}");
    meta.dpop_signing_alg_values_supported = Some(vec!["RS256".into()]);
    assert!(!use_dpop(DpopMode::Auto, &meta).unwrap());
    assert!(use_dpop(DpopMode::Required, &meta).is_err());
    meta.dpop_signing_alg_values_supported = Some(vec!["RS256".into(), "ES256".into()]);
    assert!(use_dpop(DpopMode::Auto, &meta).unwrap());
    assert!(use_dpop(DpopMode::Required, &meta).unwrap());
    assert!(!use_dpop(DpopMode::Off, &meta).unwrap());
    assert_eq!(DpopMode::parse(" Required "), Some(DpopMode::Required));
    assert_eq!(DpopMode::parse("yes"), None);
}

#[test]
fn a_proof_is_signed_by_the_stored_key_and_names_the_request() {
    let auth = McpAuth::new(MemHost::new(|_| json(404, &j!({}))));
    let token = AccessToken::new("tok");
    let (proof, jkt) = run(auth.dpop_proof(
        ID,
        Method::Post,
        "https://mcp.example.com/mcp?x=1#f",
        Some(&token),
    ))
    .expect("proof");
    let (header, claims) = verify(&proof);
    assert_eq!(header["typ"], "dpop+jwt");
    assert_eq!(header["alg"], "ES256");
    assert!(header["jwk"].get("d").is_none(), "public key only");
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], "https://mcp.example.com/mcp");
    assert_eq!(claims["iat"], 1000);
    assert_eq!(claims["ath"], ath(&token));
    assert!(claims.get("nonce").is_none());
    // the same key signs the next proof, with a new jti
    let (again, jkt2) =
        run(auth.dpop_proof(ID, Method::Get, "https://mcp.example.com/sse", None)).expect("proof");
    let (h2, c2) = verify(&again);
    assert_eq!(h2["jwk"], header["jwk"]);
    assert_eq!(jkt, jkt2);
    assert_ne!(c2["jti"], claims["jti"]);
    assert!(c2.get("ath").is_none());
    // the key record is in the store, its private half redacted from Debug
    let stored = auth.host().get(&key::key_name(ID)).expect("key record");
    assert_eq!(stored["jwk"], header["jwk"]);
    let rec: key::DpopKeyRecord = crate::json::from_value(stored).expect("record");
    assert!(!format!("{rec:?}").contains(rec.d.secret()));
    // thumbprint by RFC 7638: the required members, sorted, no whitespace
    let jwk: PublicJwk = crate::json::from_value(header["jwk"].clone()).unwrap();
    assert_eq!(jwk.thumbprint().unwrap(), jkt);
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk.x, jwk.y
    );
    assert_eq!(jkt, crate::b64::url(Sha256::digest(canonical.as_bytes())));
    // another identity has another key
    let (_, other) =
        run(auth.dpop_proof("https://b.example", Method::Get, "https://b.example/", None))
            .expect("proof");
    assert_ne!(other, jkt);
}

#[test]
fn a_token_endpoint_nonce_challenge_is_answered_once() {
    // the server wants nonce "n2"; its challenge hands it out
    let host = MemHost::new(|r| {
        let proof = r.header_value("dpop").unwrap_or_default();
        let nonce = part(proof, 1)["nonce"].as_str().map(str::to_string);
        let mut resp = if nonce.as_deref() == Some("n2") {
            json(200, &j!({"access_token": "a", "token_type": "DPoP"}))
        } else {
            json(400, &j!({"error": "use_dpop_nonce"}))
        };
        resp.headers.push(("DPoP-Nonce".into(), "n2".into()));
        resp
    });
    let auth = McpAuth::new(host);
    let req = HttpRequest::post(
        "https://as.example.com/token?q=1",
        "application/x-www-form-urlencoded",
        b"grant_type=x".to_vec(),
    );
    let (resp, jkt) = run(auth.send_token_request(ID, req.clone(), true)).expect("sent");
    assert_eq!(resp.status, 200);
    assert!(jkt.is_some());
    let sent = auth.host().sent.borrow().clone();
    assert_eq!(sent.len(), 2, "one retry");
    let first = part(sent[0].header_value("dpop").unwrap(), 1);
    let second = part(sent[1].header_value("dpop").unwrap(), 1);
    assert!(first.get("nonce").is_none());
    assert_eq!(second["nonce"], "n2");
    assert_eq!(second["htu"], "https://as.example.com/token");
    assert_ne!(first["jti"], second["jti"]);
    // the nonce is remembered for the origin: the next request needs no retry
    run(auth.send_token_request(ID, req, true)).expect("sent");
    assert_eq!(auth.host().sent.borrow().len(), 3);
}

#[test]
fn a_server_that_keeps_asking_for_nonces_gets_one_retry() {
    let host = MemHost::new(|_| {
        let mut resp = json(400, &j!({"error": "use_dpop_nonce"}));
        resp.headers.push(("DPoP-Nonce".into(), "again".into()));
        resp
    });
    let auth = McpAuth::new(host);
    let req = HttpRequest::post("https://as.example.com/token", "x", vec![]);
    let (resp, _) = run(auth.send_token_request(ID, req, true)).expect("sent");
    assert_eq!(resp.status, 400);
    assert_eq!(auth.host().sent.borrow().len(), 2);
}

#[test]
fn a_dpop_token_without_a_proof_is_refused() {
    let resp = json(200, &j!({"access_token": "a", "token_type": "dpop"}));
    let grant = crate::oauth::parse_token_response(&resp, 0, None).expect("parsed");
    assert_eq!(grant.token_type, "DPoP");
    let e = grant.bind(None).err().expect("refused");
    assert_eq!(e.code(), "invalid_token_response");
    let grant = crate::oauth::parse_token_response(&resp, 0, None).expect("parsed");
    assert_eq!(
        grant
            .bind(Some("jkt".into()))
            .expect("bound")
            .dpop_jkt
            .as_deref(),
        Some("jkt")
    );
}

#[test]
fn nonce_challenges_are_recognised() {
    let mut as_resp = json(400, &j!({"error": "use_dpop_nonce"}));
    assert!(!is_as_nonce_challenge(&as_resp), "no nonce header");
    as_resp.headers.push(("DPoP-Nonce".into(), "n".into()));
    assert!(is_as_nonce_challenge(&as_resp));
    let mut rs = json(401, &j!({}));
    rs.headers.push((
        "WWW-Authenticate".into(),
        r#"DPoP error="use_dpop_nonce", algs="ES256""#.into(),
    ));
    assert!(!is_rs_nonce_challenge(&rs));
    rs.headers.push(("DPoP-Nonce".into(), "n".into()));
    assert!(is_rs_nonce_challenge(&rs));
    let mut bearer = json(401, &j!({}));
    bearer.headers.push((
        "WWW-Authenticate".into(),
        r#"Bearer error="invalid_token""#.into(),
    ));
    bearer.headers.push(("DPoP-Nonce".into(), "n".into()));
    assert!(!is_rs_nonce_challenge(&bearer));
}

#[test]
fn nonces_are_kept_per_origin_and_rotate() {
    let n = Nonces::default();
    let mut r = json(200, &j!({}));
    r.headers.push(("DPoP-Nonce".into(), "one".into()));
    n.note("https://as.example.com/token", &r);
    assert_eq!(
        n.get("https://as.example.com/other").as_deref(),
        Some("one")
    );
    assert_eq!(n.get("https://as.example.com:8443/token"), None);
    r.headers[1].1 = "two".into();
    n.note("https://as.example.com/token", &r);
    assert_eq!(
        n.get("https://as.example.com/token").as_deref(),
        Some("two")
    );
    r.headers[1].1 = "bad nonce\u{7}".into();
    n.note("https://as.example.com/token", &r);
    assert_eq!(
        n.get("https://as.example.com/token").as_deref(),
        Some("two")
    );
}

#[test]
fn a_bound_token_whose_key_is_gone_is_never_sent() {
    let host = MemHost::new(|_| {
        let mut r = json(401, &j!({}));
        r.headers
            .push(("WWW-Authenticate".into(), r#"DPoP algs="ES256""#.into()));
        r
    });
    let res = "https://mcp.example.com/mcp";
    host.put(
        &crate::records::tokens_key(ID, res),
        &j!({"version": 2, "identity": ID, "resource": res, "issuer": "https://as",
            "client_id": "c", "access_token": "stolen", "token_type": "DPoP",
            "dpop_jkt": "not-this-machine's-key", "obtained_at": 1000}),
    );
    let auth = McpAuth::new(host);
    let opts = crate::client::AuthOptions {
        interactive: false,
        ..Default::default()
    };
    let req = HttpRequest::post(res, "application/json", b"{}".to_vec());
    let e = run(auth.authorized_request(res, req, &opts)).expect_err("no usable token");
    assert_eq!(e.code(), "login_required");
    let sent = auth.host().sent.borrow();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].header_value("authorization").is_none());
    assert!(sent[0].header_value("dpop").is_none());
}

#[test]
fn a_key_whose_login_never_completed_is_indexed_and_logout_removes_it() {
    let auth = McpAuth::new(MemHost::new(|_| json(404, &j!({}))));
    // a proof for a token request that then fails: a key, and no tokens
    run(auth.dpop_proof(ID, Method::Post, "https://as.example.com/token", None)).expect("proof");
    let index = run(auth.index()).expect("index");
    assert_eq!(index.dpop_identities(), vec![ID.to_string()]);
    assert!(index.identities().is_empty(), "no tokens");
    // logout (what `clear --all` runs for every identity, these included) deletes both
    run(auth.logout(ID, false)).expect("logout");
    assert!(
        auth.host().get(&key::key_name(ID)).is_none(),
        "the key is gone"
    );
    assert!(run(auth.index())
        .expect("index")
        .dpop_identities()
        .is_empty());
    // a new proof after that makes (and lists) a new key
    run(auth.dpop_proof(ID, Method::Post, "https://as.example.com/token", None)).expect("proof");
    assert_eq!(
        run(auth.index()).expect("index").dpop_identities(),
        vec![ID.to_string()]
    );
}

#[test]
fn proof_bytes_are_pinned() {
    // Header (with the nested jwk) and claims in sorted member order, no whitespace, `iat`
    // an integer: the bytes servers have seen so far.
    let auth = McpAuth::new(MemHost::new(|_| json(404, &j!({}))));
    let mut r = json(200, &j!({}));
    r.headers.push(("DPoP-Nonce".into(), "n-1".into()));
    auth.nonces.note("https://mcp.example.com/x", &r);
    let token = AccessToken::new("tok");
    let (proof, _) = run(auth.dpop_proof(
        ID,
        Method::Post,
        "https://mcp.example.com/mcp?x=1",
        Some(&token),
    ))
    .expect("proof");
    let (header, claims) = verify(&proof);
    let text = |i: usize| {
        String::from_utf8(
            crate::b64::url_decode(proof.split('.').nth(i).expect("segment")).expect("b64"),
        )
        .expect("utf-8")
    };
    let member = |v: &Value, k: &str| v[k].as_str().expect("a string").to_string();
    assert_eq!(
        text(0),
        format!(
            r#"{{"alg":"ES256","jwk":{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}},"typ":"dpop+jwt"}}"#,
            member(&header["jwk"], "x"),
            member(&header["jwk"], "y")
        )
    );
    assert_eq!(
        text(1),
        format!(
            r#"{{"ath":"{}","htm":"POST","htu":"https://mcp.example.com/mcp","iat":1000,"jti":"{}","nonce":"n-1"}}"#,
            ath(&token),
            member(&claims, "jti")
        )
    );
    // without token and nonce
    let (proof, _) =
        run(auth.dpop_proof("https://b.example", Method::Get, "https://b.example/", None))
            .expect("proof");
    let claims = part(&proof, 1);
    let text = String::from_utf8(
        crate::b64::url_decode(proof.split('.').nth(1).expect("segment")).expect("b64"),
    )
    .expect("utf-8");
    assert_eq!(
        text,
        format!(
            r#"{{"htm":"GET","htu":"https://b.example/","iat":1000,"jti":"{}"}}"#,
            member(&claims, "jti")
        )
    );
}

/// The authorization server's nonce challenge: a 400 with a `DPoP-Nonce` header whose body is
/// a JSON object with `error` the string `use_dpop_nonce`; any other body is not one.
#[test]
fn an_as_nonce_challenge_needs_the_error_string_in_a_json_object() {
    let resp = |status: u16, nonce: bool, body: &str| HttpResponse {
        status,
        headers: if nonce {
            vec![("DPoP-Nonce".to_string(), "n1".to_string())]
        } else {
            Vec::new()
        },
        body: body.as_bytes().to_vec(),
    };
    let challenge = r#"{"error":"use_dpop_nonce","error_description":5}"#;
    assert!(is_as_nonce_challenge(&resp(400, true, challenge)));
    assert!(!is_as_nonce_challenge(&resp(400, false, challenge)));
    assert!(!is_as_nonce_challenge(&resp(401, true, challenge)));
    for body in [
        "",
        "use_dpop_nonce",
        r#""use_dpop_nonce""#,
        r#"["use_dpop_nonce"]"#,
        r#"{"error":["use_dpop_nonce"]}"#,
        r#"{"error":"invalid_dpop_proof"}"#,
        r#"{"error":"USE_DPOP_NONCE"}"#,
        r#"{"error":null}"#,
        r#"{"err":"use_dpop_nonce"}"#,
        r#"{"error":"use_dpop_nonce""#,
    ] {
        assert!(!is_as_nonce_challenge(&resp(400, true, body)), "{body}");
    }
}
