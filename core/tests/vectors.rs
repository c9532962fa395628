//! The shared vectors in tests/vectors/, which the JS tests of the wasm build read too.

use mcp_auth_core::metadata::{
    authorization_server_metadata_urls, protected_resource_metadata_urls,
};
use mcp_auth_core::oauth::validate_callback;
use mcp_auth_core::pkce::{challenge_s256, verifier_is_valid};
use mcp_auth_core::www_authenticate::{bearer, parse_challenges};
use mcp_auth_core::{identity, resource_uri, PkceCodeVerifier};
use serde_json::Value;

fn vectors(name: &str) -> Value {
    let path = format!("{}/../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

fn list<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not a list"))
}

#[test]
fn identity_and_resource_uri() {
    let v = vectors("identity.json");
    let cases = list(&v, "cases");
    assert!(cases.len() >= 8);
    for c in cases {
        let input = s(&c["input"]);
        assert_eq!(
            identity(input).unwrap(),
            s(&c["identity"]),
            "identity({input:?})"
        );
        assert_eq!(
            resource_uri(input).unwrap(),
            s(&c["resource"]),
            "resource_uri({input:?})"
        );
    }
    for c in list(&v, "errors") {
        let input = s(&c["input"]);
        let err = identity(input).expect_err(input);
        assert_eq!(err.code(), s(&c["code"]), "identity({input:?})");
        assert_eq!(resource_uri(input).expect_err(input).code(), s(&c["code"]));
    }
}

#[test]
fn pkce_rfc7636_appendix_b() {
    let v = vectors("pkce.json");
    for c in list(&v, "cases") {
        assert_eq!(
            challenge_s256(&PkceCodeVerifier::new(s(&c["verifier"]))),
            s(&c["challenge"])
        );
    }
    for c in list(&v, "verifier_validity") {
        assert_eq!(
            verifier_is_valid(s(&c["verifier"])),
            c["valid"].as_bool().unwrap(),
            "{c}"
        );
    }
}

#[test]
fn www_authenticate() {
    let v = vectors("www_authenticate.json");
    for c in list(&v, "cases") {
        let headers: Vec<&str> = list(c, "headers").iter().map(s).collect();
        let parsed = parse_challenges(headers.iter().copied());
        let expected = list(c, "challenges");
        assert_eq!(parsed.len(), expected.len(), "{headers:?}");
        for (got, want) in parsed.iter().zip(expected) {
            assert_eq!(got.scheme, s(&want["scheme"]));
            assert_eq!(
                got.token68.as_deref(),
                want["token68"].as_str(),
                "{headers:?}"
            );
            let params = want["params"].as_object().unwrap();
            assert_eq!(
                got.params.len(),
                params.len(),
                "{headers:?}: {:?}",
                got.params
            );
            for (k, val) in params {
                assert_eq!(got.param(k), Some(s(val)), "{headers:?} param {k}");
            }
        }
        let b = bearer(headers.iter().copied());
        match &c["bearer"] {
            Value::Null => assert!(b.is_none(), "{headers:?}"),
            want => {
                let b = b.unwrap_or_else(|| panic!("no bearer challenge in {headers:?}"));
                assert_eq!(
                    b.resource_metadata.as_deref(),
                    want["resource_metadata"].as_str()
                );
                assert_eq!(b.scope.as_deref(), want["scope"].as_str());
                assert_eq!(b.error.as_deref(), want["error"].as_str());
            }
        }
    }
}

#[test]
fn discovery_url_lists() {
    let v = vectors("discovery.json");
    for c in list(&v, "protected_resource") {
        let urls = protected_resource_metadata_urls(s(&c["server"]), c["header"].as_str()).unwrap();
        let want: Vec<&str> = list(c, "urls").iter().map(s).collect();
        assert_eq!(urls, want, "{c}");
    }
    for c in list(&v, "authorization_server") {
        let urls = authorization_server_metadata_urls(s(&c["issuer"])).unwrap();
        let want: Vec<&str> = list(c, "urls").iter().map(s).collect();
        assert_eq!(urls, want, "{c}");
    }
    for c in list(&v, "errors") {
        let err =
            protected_resource_metadata_urls(s(&c["server"]), c["header"].as_str()).unwrap_err();
        assert_eq!(err.code(), s(&c["code"]));
    }
}

#[test]
fn callback_validation() {
    let v = vectors("callback.json");
    for c in list(&v, "cases") {
        let r = validate_callback(
            s(&c["callback"]),
            s(&c["state"]),
            s(&c["issuer"]),
            c["iss_required"].as_bool().unwrap(),
        );
        match (&c["code"], &c["error"]) {
            (Value::String(code), _) => assert_eq!(
                r.unwrap_or_else(|e| panic!("{}: {e}", c["callback"]))
                    .secret(),
                code
            ),
            (_, Value::String(code)) => {
                let err = r
                    .err()
                    .unwrap_or_else(|| panic!("{} should fail", c["callback"]));
                assert_eq!(err.code(), code, "{}", c["callback"]);
                if code == "state_mismatch" || code == "iss_mismatch" {
                    assert!(
                        !err.to_string().contains("evil"),
                        "attacker text shown: {err}"
                    );
                }
            }
            _ => panic!("case without code or error: {c}"),
        }
    }
}
