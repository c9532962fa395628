//! `privateKey` (`private_key_jwt`) in Node: the client's key is imported into WebCrypto
//! (not extractable) on its first use and signs the client assertions core builds; the wasm
//! build keeps no private key of its own. The key is a PKCS#8 PEM (`BEGIN PRIVATE KEY`) or
//! a private JWK: a P-256 key signs ES256, an RSA key RS256.

use crate::webcrypto::{algorithm, settle, sign_usage, subtle};
use js_sys::{Object, Uint8Array};
use mcp_auth_core::error::{Error, Result};
use mcp_auth_core::jose::{Alg, HostKey, SigningKey};
use mcp_auth_core::json::{self, Json};
use mcp_auth_core::secret::ClientSecret;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::JsCast;
use web_sys::CryptoKey;

/// The DER of the object identifiers a PKCS#8 key names its algorithm with.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch)]
    fn atob(text: &str) -> std::result::Result<String, wasm_bindgen::JsValue>;
}

/// What the key text is, once read.
enum Material {
    Pkcs8(Vec<u8>),
    Jwk(json::Object),
}

struct WebCryptoClientKey {
    alg: Alg,
    material: ClientSecret,
    public: json::Object,
    imported: RefCell<Option<CryptoKey>>,
}

fn key_error(message: impl Into<String>) -> Box<Error> {
    Error::SigningKey(message.into()).boxed()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reads the key text: its algorithm, and what WebCrypto imports.
fn read(text: &str) -> Result<(Alg, Material)> {
    let text = text.trim_ascii();
    if text.starts_with('{') {
        let jwk = match json::parse(text.as_bytes()) {
            Ok(Json::Object(jwk)) => jwk,
            Ok(_) => return Err(key_error("privateKey is not a JWK (not a JSON object)")),
            Err(e) => return Err(key_error(format!("privateKey is not a JWK ({e})"))),
        };
        let field = |k: &str| jwk.get(k).and_then(Json::as_str).unwrap_or("");
        if field("d").is_empty() {
            return Err(key_error(
                "privateKey is a public JWK; the private key is needed",
            ));
        }
        let alg = match (field("kty"), field("crv")) {
            ("EC", "P-256") => Alg::Es256,
            ("RSA", _) => Alg::Rs256,
            (kty, crv) => {
                return Err(key_error(format!(
                    "a JWK with kty `{kty}` crv `{crv}` is not supported; use a P-256 (ES256) or RSA (RS256) key"
                )))
            }
        };
        return Ok((alg, Material::Jwk(jwk)));
    }
    let Some(body) = text
        .strip_prefix("-----BEGIN PRIVATE KEY-----")
        .and_then(|rest| rest.strip_suffix("-----END PRIVATE KEY-----"))
    else {
        return Err(key_error(
            "privateKey must be a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----) or a private JWK; \
             convert an EC or RSA PEM with `openssl pkcs8 -topk8 -nocrypt`",
        ));
    };
    // the platform's forgiving base64 (whitespace between lines skipped): a binary string,
    // one code point 0–255 per byte
    let binary = atob(body).map_err(|_| key_error("privateKey: the PEM's base64 is broken"))?;
    let mut der = Vec::with_capacity(binary.len());
    for c in binary.chars() {
        der.push(c as u8);
    }
    let alg = if contains(&der, OID_EC_PUBLIC_KEY) && contains(&der, OID_P256) {
        Alg::Es256
    } else if contains(&der, OID_RSA) {
        Alg::Rs256
    } else {
        return Err(key_error(
            "privateKey: only P-256 (ES256) and RSA (RS256) keys are supported",
        ));
    };
    Ok((alg, Material::Pkcs8(der)))
}

/// The client key of the `privateKey` option (checked against `signingAlg` when given).
pub(crate) fn client_key(text: &str, signing_alg: Option<&str>) -> Result<SigningKey> {
    let (alg, material) = read(text)?;
    if let Some(wanted) = signing_alg {
        if Alg::parse(wanted)? != alg {
            return Err(key_error(format!(
                "privateKey signs {}, not the signingAlg {wanted}",
                alg.as_str()
            )));
        }
    }
    let mut public = json::Object::new();
    if let Material::Jwk(jwk) = &material {
        for (k, v) in jwk.iter() {
            if matches!(k, "kty" | "crv" | "x" | "y" | "n" | "e") {
                public.insert(k, v.clone());
            }
        }
    }
    Ok(SigningKey::held_by_host(WebCryptoClientKey {
        alg,
        material: ClientSecret::new(text.trim_ascii()),
        public,
        imported: RefCell::new(None),
    }))
}

#[allow(clippy::boxed_local)] // `map_err` hands over the host's boxed error
fn host_error(e: Box<mcp_auth_core::HostError>) -> Box<Error> {
    let (mcp_auth_core::HostError::Network(m)
    | mcp_auth_core::HostError::Storage(m)
    | mcp_auth_core::HostError::Browser(m)) = *e;
    key_error(format!("privateKey: {m}"))
}

impl WebCryptoClientKey {
    async fn key(&self) -> Result<CryptoKey> {
        if let Some(k) = self.imported.borrow().as_ref() {
            return Ok(k.clone());
        }
        let (format, data): (&str, Object) = match read(self.material.secret())?.1 {
            Material::Pkcs8(der) => ("pkcs8", Uint8Array::from(der.as_slice()).into()),
            Material::Jwk(jwk) => (
                "jwk",
                js_sys::JSON::parse(&json::print(&Json::Object(jwk)))
                    .map_err(|_| key_error("privateKey: the JWK could not be handed to WebCrypto"))?
                    .unchecked_into(),
            ),
        };
        let s = subtle().map_err(host_error)?;
        let r = s.import_key_with_object(
            format,
            &data,
            &algorithm(self.alg, true),
            false,
            &sign_usage(),
        );
        let key: CryptoKey = settle("importKey", r)
            .await
            .map_err(host_error)?
            .unchecked_into();
        *self.imported.borrow_mut() = Some(key.clone());
        Ok(key)
    }
}

impl HostKey for WebCryptoClientKey {
    fn alg(&self) -> Alg {
        self.alg
    }
    fn public_jwk(&self) -> json::Object {
        self.public.clone()
    }
    fn sign<'a>(
        &'a self,
        signing_input: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>>> + 'a>> {
        Box::pin(async move {
            let key = self.key().await?;
            let s = subtle().map_err(host_error)?;
            let sig = settle(
                "sign",
                s.sign_with_object_and_u8_array(&algorithm(self.alg, false), &key, signing_input),
            )
            .await
            .map_err(host_error)?;
            Ok(crate::js::bytes(&Uint8Array::new(&sig)))
        })
    }
}
