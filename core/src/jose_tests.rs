use super::*;
use crate::json::parse;
use p256::ecdsa::signature::Verifier as _;
use rsa::BoxedUint;

const ES256_PKCS8: &str = include_str!("../../tests/vectors/keys/es256.pem");
const ES256_SEC1: &str = include_str!("../../tests/vectors/keys/es256.sec1.pem");
const ES256_JWK: &str = include_str!("../../tests/vectors/keys/es256.jwk.json");
const ES256_PUBLIC: &str = include_str!("../../tests/vectors/keys/es256.public.jwk.json");
const RS256_PKCS8: &str = include_str!("../../tests/vectors/keys/rs256.pem");
const RS256_PKCS1: &str = include_str!("../../tests/vectors/keys/rs256.pkcs1.pem");
const RS256_JWK: &str = include_str!("../../tests/vectors/keys/rs256.jwk.json");
const RS256_PUBLIC: &str = include_str!("../../tests/vectors/keys/rs256.public.jwk.json");
const ES384_PKCS8: &str = include_str!("../../tests/vectors/keys/es384.pem");

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    futures_util::FutureExt::now_or_never(future).expect("signing does not wait")
}

fn public(json: &str) -> Object {
    match parse(json.as_bytes()).unwrap() {
        Json::Object(o) => o,
        other => panic!("not an object: {other}"),
    }
}

fn b64(part: &str) -> Vec<u8> {
    crate::b64::url_decode(part).unwrap()
}

/// Verifies a compact JWS with the crates' verifying keys, built from the public JWK.
fn verify(token: &str, jwk: &Object) -> Json {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let input = format!("{}.{}", parts[0], parts[1]);
    let signature = b64(parts[2]);
    let header = parse(&b64(parts[0])).unwrap();
    let alg = header.get("alg").and_then(Json::as_str);
    match jwk.str("kty").unwrap() {
        "EC" => {
            assert_eq!(alg, Some("ES256"));
            let mut point = vec![4u8];
            point.extend(b64(jwk.str("x").unwrap()));
            point.extend(b64(jwk.str("y").unwrap()));
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
            let signature = p256::ecdsa::Signature::from_slice(&signature).unwrap();
            key.verify(input.as_bytes(), &signature).unwrap();
        }
        "RSA" => {
            assert_eq!(alg, Some("RS256"));
            let n = b64(jwk.str("n").unwrap());
            let e = b64(jwk.str("e").unwrap());
            let key = rsa::PublicKey::new(
                BoxedUint::from_be_slice(&n, (n.len() * 8) as u32).unwrap(),
                BoxedUint::from_be_slice(&e, 64).unwrap(),
            )
            .unwrap();
            let key = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key);
            let signature = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).unwrap();
            rsa::signature::Verifier::verify(&key, input.as_bytes(), &signature).unwrap();
        }
        other => panic!("kty {other}"),
    }
    parse(&b64(parts[1])).unwrap()
}

fn sign_and_verify(key: &SigningKey, expected_public: &Object) {
    assert_eq!(&sorted(key.public_jwk()), &sorted(expected_public.clone()));
    let header = Object::new().with("typ", "JWT").with("alg", "none");
    let claims = Object::new().with("iss", "client-1").with("jti", "j-1");
    let token = block_on(jws(header, &claims, key)).unwrap();
    assert_eq!(verify(&token, expected_public), Json::Object(claims));
    let header = parse(&b64(token.split('.').next().unwrap())).unwrap();
    assert_eq!(header.get("typ").and_then(Json::as_str), Some("JWT"));
    assert_eq!(
        header.get("alg").and_then(Json::as_str),
        Some(key.alg().as_str()),
        "the signer sets alg"
    );
}

#[test]
fn es256_from_every_format_signs_verifiably() {
    let expected = public(ES256_PUBLIC);
    for text in [ES256_PKCS8, ES256_SEC1, ES256_JWK] {
        let key = SigningKey::parse(text).unwrap();
        assert_eq!(key.alg(), Alg::Es256);
        sign_and_verify(&key, &expected);
    }
}

#[test]
fn rs256_from_every_format_signs_verifiably() {
    let expected = public(RS256_PUBLIC);
    for text in [RS256_PKCS8, RS256_PKCS1, RS256_JWK] {
        let key = SigningKey::parse(text).unwrap();
        assert_eq!(key.alg(), Alg::Rs256);
        sign_and_verify(&key, &expected);
    }
}

#[test]
fn a_generated_key_signs_verifiably_and_differs_each_time() {
    let a = SigningKey::generate_es256().unwrap();
    let b = SigningKey::generate_es256().unwrap();
    assert_ne!(a.public_jwk(), b.public_jwk());
    sign_and_verify(&a, &a.public_jwk());
}

#[test]
fn thumbprint_matches_rfc7638_example() {
    // RFC 7638 §3.1.
    let jwk = public(
        r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
    );
    assert_eq!(
        jwk_thumbprint(&jwk).unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn thumbprint_ignores_optional_members_and_member_order() {
    let key = SigningKey::parse(ES256_JWK).unwrap();
    let mut jwk = key.public_jwk();
    let plain = jwk_thumbprint(&jwk).unwrap();
    jwk.insert("kid", "k1");
    jwk.insert("use", "sig");
    assert_eq!(jwk_thumbprint(&jwk).unwrap(), plain);
    assert_eq!(key.thumbprint().unwrap(), plain);
    let other = SigningKey::generate_es256().unwrap();
    assert_ne!(other.thumbprint().unwrap(), plain);
}

fn message(result: Result<SigningKey>) -> String {
    match result {
        Ok(key) => panic!("expected an error, got {key:?}"),
        Err(e) => {
            assert_eq!(e.code(), "signing_key");
            e.to_string()
        }
    }
}

#[test]
fn errors_name_the_problem_without_key_bytes() {
    let p384 = message(SigningKey::parse(ES384_PKCS8));
    assert!(
        p384.contains("ES384") && p384.contains("use ES256"),
        "{p384}"
    );
    assert!(message(SigningKey::parse("hello")).contains("not a PEM private key"));
    let public_pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";
    assert!(message(SigningKey::parse(public_pem)).contains("not a private key"));
    let mut jwk = public(ES256_JWK);
    jwk.insert("alg", "ES384");
    let wrong_alg = message(SigningKey::parse(&Json::Object(jwk.clone()).to_string()));
    assert!(
        wrong_alg.contains("ES384 is not supported; use ES256 or RS256"),
        "{wrong_alg}"
    );
    jwk.insert("alg", "RS256");
    let mismatch = message(SigningKey::parse(&Json::Object(jwk.clone()).to_string()));
    assert!(mismatch.contains("EC P-256"), "{mismatch}");
    jwk.remove("alg");
    let d = jwk.str("d").unwrap().to_string();
    jwk.insert("x", public(RS256_PUBLIC).str("n").unwrap());
    let bad = message(SigningKey::parse(&Json::Object(jwk).to_string()));
    assert!(!bad.contains(&d), "{bad}");
    assert!(Alg::parse("HS256")
        .unwrap_err()
        .to_string()
        .contains("HS256 is not supported"));
    let key = SigningKey::parse(RS256_PKCS8).unwrap();
    assert!(key.check_alg(Alg::Es256).is_err());
    let shown = format!("{key:?}");
    assert_eq!(shown, "SigningKey(RS256, [redacted])");
}

/// The base64url segment `i` of a compact JWS, as text.
fn segment(token: &str, i: usize) -> String {
    String::from_utf8(b64(token.split('.').nth(i).unwrap())).unwrap()
}

const ES256_X: &str = "9RusAeFlSbpMjq3p5GmFXx8HlxHPstxI6m3rECEzDXc";
const ES256_Y: &str = "wneZ29oT-mBDUcZraLBt8nvAYwMmzPGXBq3kUMT2JX8";
const ES256_D: &str = "6F4cxotwgTT-G5INgmL5UN2tupHsBlRTe2E4f5c_-Y0";

#[test]
fn jws_bytes_are_pinned() {
    // Members in sorted (byte-lexicographic) order at every depth, `alg` among them, no
    // whitespace, integers without a fraction: the bytes every server has seen so far.
    let key = SigningKey::parse(ES256_JWK).unwrap();
    let jwk: Object = key.public_jwk().into_iter().rev().collect();
    let header = Object::new()
        .with("typ", "JWT")
        .with("kid", "k1")
        .with("jwk", jwk)
        .with("alg", "none");
    let nested = Object::new()
        .with("z", 1u64)
        .with(
            "B",
            vec![Json::from(1u64), "x".into(), true.into(), Json::Null],
        )
        .with("a", Object::new());
    let claims = Object::new()
        .with("sub", "client-1")
        .with("iss", "client-1")
        .with("aud", "https://as.example/")
        .with("iat", 1_700_000_000u64)
        .with("exp", 1_700_000_060u64)
        .with("jti", "j-1")
        .with("nested", nested)
        .with("text", "quote\" back\\ slash/ \u{e9} \u{1}\n");
    let token = block_on(jws(header, &claims, &key)).unwrap();
    assert_eq!(
        segment(&token, 0),
        format!(
            r#"{{"alg":"ES256","jwk":{{"crv":"P-256","kty":"EC","x":"{ES256_X}","y":"{ES256_Y}"}},"kid":"k1","typ":"JWT"}}"#
        )
    );
    assert_eq!(
        segment(&token, 1),
        "{\"aud\":\"https://as.example/\",\"exp\":1700000060,\"iat\":1700000000,\"iss\":\"client-1\",\"jti\":\"j-1\",\"nested\":{\"B\":[1,\"x\",true,null],\"a\":{},\"z\":1},\"sub\":\"client-1\",\"text\":\"quote\\\" back\\\\ slash/ \u{e9} \\u0001\\n\"}"
    );
    // ES256 signatures here are deterministic (RFC 6979): the whole token is fixed.
    assert_eq!(token, PINNED_ES256_TOKEN);
    verify(&token, &public(ES256_PUBLIC));

    let rsa = SigningKey::parse(RS256_JWK).unwrap();
    let header = Object::new().with("typ", "JWT");
    let claims = Object::new()
        .with("jti", "j-2")
        .with("iat", 1u64)
        .with("aud", "a");
    let token = block_on(jws(header, &claims, &rsa)).unwrap();
    assert_eq!(segment(&token, 0), r#"{"alg":"RS256","typ":"JWT"}"#);
    assert_eq!(segment(&token, 1), r#"{"aud":"a","iat":1,"jti":"j-2"}"#);
    assert_eq!(token, PINNED_RS256_TOKEN);
}

const PINNED_ES256_TOKEN: &str = "eyJhbGciOiJFUzI1NiIsImp3ayI6eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6IjlSdXNBZUZsU2JwTWpxM3A1R21GWHg4SGx4SFBzdHhJNm0zckVDRXpEWGMiLCJ5Ijoid25lWjI5b1QtbUJEVWNacmFMQnQ4bnZBWXdNbXpQR1hCcTNrVU1UMkpYOCJ9LCJraWQiOiJrMSIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2FzLmV4YW1wbGUvIiwiZXhwIjoxNzAwMDAwMDYwLCJpYXQiOjE3MDAwMDAwMDAsImlzcyI6ImNsaWVudC0xIiwianRpIjoiai0xIiwibmVzdGVkIjp7IkIiOlsxLCJ4Iix0cnVlLG51bGxdLCJhIjp7fSwieiI6MX0sInN1YiI6ImNsaWVudC0xIiwidGV4dCI6InF1b3RlXCIgYmFja1xcIHNsYXNoLyDDqSBcdTAwMDFcbiJ9.zkvLGKl4snBBs0MYpwFduD3rfA3OtQreqrtVOwPwyInVXpe11843b763oFn0rcC8S1cY_PZpyhTMNchPNNLmIA";
const PINNED_RS256_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJhIiwiaWF0IjoxLCJqdGkiOiJqLTIifQ.YEFHbKpaVIm8sXH7lFV2dKzhFdxEcjorITBAnc2I_1VAya8po8g9L9TLg1IZDOwDa4hvPPKJWnjE-Ymn6ygAYKn2O5gAmBKLhHCD3T6vwjTZhef_1ISDtVa6Db2qFDPnwDlPwo6V6zal0En5-PshFEqc3zaaNjf-p-KzbmK8VCxxgBrHlIsflL7Z8st1GJDuoErJRDnN8p_r5sS3VG_V5mbNQkXX2k-p8Ys-fu_YKA6RBN2dIGtKXnacHGs8HhI0mGpb9-745UyeMT-7s5goQP9zc90YYFc9lPRhjp8VS2_gOUbWxSXOqrfPMoJjjOZCAu4UGFVvwRL5rkIOQVQ9vA";

#[test]
fn jwk_bytes_are_pinned() {
    let key = SigningKey::parse(ES256_PKCS8).unwrap();
    assert_eq!(
        json::print(&Json::Object(key.public_jwk())),
        format!(r#"{{"crv":"P-256","kty":"EC","x":"{ES256_X}","y":"{ES256_Y}"}}"#)
    );
    assert_eq!(
        json::print(&Json::Object(key.private_jwk().unwrap())),
        format!(r#"{{"crv":"P-256","d":"{ES256_D}","kty":"EC","x":"{ES256_X}","y":"{ES256_Y}"}}"#)
    );
    let rsa = SigningKey::parse(RS256_PKCS8).unwrap();
    let expected = public(RS256_PUBLIC);
    assert_eq!(
        json::print(&Json::Object(rsa.public_jwk())),
        format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            expected.str("e").unwrap(),
            expected.str("n").unwrap()
        )
    );
    assert!(rsa.private_jwk().is_none());
}

#[test]
fn ec_thumbprint_is_pinned() {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{ES256_X}","y":"{ES256_Y}"}}"#);
    let expected = crate::b64::url(Sha256::digest(canonical.as_bytes()));
    let key = SigningKey::parse(ES256_JWK).unwrap();
    assert_eq!(key.thumbprint().unwrap(), expected);
    assert_eq!(expected, PINNED_ES256_THUMBPRINT);
    let rsa = SigningKey::parse(RS256_JWK).unwrap();
    assert_eq!(rsa.thumbprint().unwrap(), PINNED_RS256_THUMBPRINT);
}

const PINNED_ES256_THUMBPRINT: &str = "Io1sNTVL3fk102Kq5IQwnTFrCHUYIEgzJr20SN5PwDM";
const PINNED_RS256_THUMBPRINT: &str = "8Rfnk5EWVoO_gDCHnf-qfr-sDzCPQzRDU5omIvn3rtY";

#[test]
fn sorted_orders_members_at_every_depth() {
    let inner = Object::new().with("y", 1u64).with("b", 2u64);
    let object = Object::new()
        .with("z", vec![Json::Object(inner.clone()), Json::Null])
        .with("a", inner)
        .with("\u{c9}", true)
        .with("Z", false);
    assert_eq!(
        json::print(&Json::Object(sorted(object))),
        "{\"Z\":false,\"a\":{\"b\":2,\"y\":1},\"z\":[{\"b\":2,\"y\":1},null],\"\u{c9}\":true}"
    );
}

#[test]
fn hostile_jwks_are_refused_without_key_material() {
    let secret = "c2VjcmV0LXNlY3JldA"; // base64url of "secret-secret"
    for text in [
        "{".to_string(),
        "[1]".to_string(),
        r#"{"kty":1}"#.to_string(),
        r#"{"kty":"EC","crv":"P-256","d":7}"#.to_string(),
        format!(r#"{{"kty":"EC","crv":"P-256","d":"{secret}!"}}"#),
        format!(r#"{{"kty":"EC","crv":"P-256","d":"{secret}","x":1,"y":[]}}"#),
        format!(r#"{{"kty":"RSA","n":"AQAB","e":"AQAB","d":"{secret}"}}"#),
        format!(r#"{{"kty":"RSA","n":"AQAB","e":"AQAB","d":"{secret}","p":"{secret}"}}"#),
        format!(r#"{{"kty":"oct","k":"{secret}"}}"#),
    ] {
        let e = message(SigningKey::from_jwk(&text));
        assert!(!e.contains(secret) && !e.contains("secret"), "{e}");
    }
    assert!(message(SigningKey::from_jwk("{")).contains("not valid JSON"));
    assert!(message(SigningKey::from_jwk("[1]")).contains("not a JSON object"));
}

#[test]
fn an_unknown_algorithm_name_is_shown_printable_and_bounded() {
    let hostile = format!("HS\u{1b}[31m256\u{7}{}", "x".repeat(100));
    let e = Alg::parse(&hostile).unwrap_err().to_string();
    assert!(!e.contains('\u{1b}') && !e.contains('\u{7}'), "{e:?}");
    assert!(e.contains("HS256xxx"), "{e:?}");
    assert!(e.contains('…') && !e.contains(&"x".repeat(41)), "{e:?}");
}
