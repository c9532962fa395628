//! Private keys in memory (feature `software-keys`, on by default): ES256 (P-256) and RS256
//! keys read from PEM or a JWK, or generated, signing with RustCrypto. Builds that keep keys
//! elsewhere (the wasm build: WebCrypto) leave the feature out and get the stub in
//! `jose_nokeys.rs`, so none of this code or its crates reach them.

use super::{jwk_thumbprint, key_error, member, shown, Alg, JwsSigner};
use crate::error::{Error, Result};
use crate::json::{self, Json, Object};
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::sec1::ToSec1Point as _;
use pkcs8::der::Decode as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use rsa::BoxedUint;
use sha2::Sha256;
use std::fmt;

/// A private key in memory. `Debug` names the algorithm only.
#[derive(Clone)]
pub struct SigningKey {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Es256(p256::ecdsa::SigningKey),
    Rs256(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.alg())
    }
}

const OID_EC_PUBLIC_KEY: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_P256: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

impl SigningKey {
    /// A fresh P-256 key (for DPoP), from the platform's randomness.
    pub fn generate_es256() -> Result<SigningKey> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes)
                .map_err(|e| key_error(format!("no randomness for a new key: {e}")))?;
            // A random 32-byte string is a valid scalar except with negligible probability;
            // draw again in that case.
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return Ok(SigningKey {
                    inner: Inner::Es256(key),
                });
            }
        }
    }

    /// Reads a private key given as PEM or as a JWK (JSON), telling them apart by the first
    /// character.
    pub fn parse(text: &str) -> Result<SigningKey> {
        if text.trim_ascii_start().starts_with('{') {
            SigningKey::from_jwk(text)
        } else {
            SigningKey::from_pem(text)
        }
    }

    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#1
    /// (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<SigningKey> {
        let (label, der) = pem_rfc7468::decode_vec(pem.trim_ascii().as_bytes()).map_err(|_| {
            key_error("not a PEM private key (expected a -----BEGIN PRIVATE KEY----- block, or EC PRIVATE KEY / RSA PRIVATE KEY)".to_string())
        })?;
        match label {
            "PRIVATE KEY" => from_pkcs8(&der),
            "EC PRIVATE KEY" => from_sec1(&der),
            "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_der(&der)
                .map(SigningKey::rsa)
                .map_err(|e| key_error(format!("the RSA PRIVATE KEY is malformed: {e}"))),
            "ENCRYPTED PRIVATE KEY" => Err(key_error(
                "the key is encrypted; give an unencrypted PKCS#8 key (e.g. `openssl pkcs8 -topk8 -nocrypt`)".into(),
            )),
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => Err(key_error(format!(
                "this is a {label}, not a private key; signing needs the private key"
            ))),
            other => Err(key_error(format!(
                "a PEM `{}` block is not a private key this client reads (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)",
                shown(other)
            ))),
        }
    }

    /// Reads a private JWK: `{"kty":"EC","crv":"P-256","d":..,"x":..,"y":..}` or
    /// `{"kty":"RSA","n":..,"e":..,"d":..,"p":..,"q":..}`. A JWK `alg` other than the one the
    /// key type implies is refused.
    pub fn from_jwk(json: &str) -> Result<SigningKey> {
        let jwk = match json::parse(json.as_bytes()) {
            Ok(Json::Object(jwk)) => jwk,
            Ok(_) => return Err(key_error("the JWK is not a JSON object".into())),
            Err(e) => return Err(key_error(format!("the JWK is {e}"))),
        };
        let key = match member(&jwk, "kty")? {
            "EC" => {
                let crv = member(&jwk, "crv")?;
                if crv != "P-256" {
                    return Err(unsupported_curve(crv));
                }
                let d = b64_member(&jwk, "d")?;
                let key = p256::ecdsa::SigningKey::from_slice(&d)
                    .map_err(|_| key_error("the JWK's `d` is not a P-256 private key".into()))?;
                let key = SigningKey {
                    inner: Inner::Es256(key),
                };
                let public = key.public_jwk();
                if public.get("x") != jwk.get("x") || public.get("y") != jwk.get("y") {
                    return Err(key_error(
                        "the JWK's `x`/`y` do not belong to its private key `d`".into(),
                    ));
                }
                key
            }
            "RSA" => {
                let n = b64_member(&jwk, "n")?;
                let e = b64_member(&jwk, "e")?;
                let d = b64_member(&jwk, "d")?;
                let bits = u32::try_from(n.len() * 8)
                    .map_err(|_| key_error("the JWK's `n` is too large".into()))?;
                let uint = |bytes: &[u8], bits: u32| {
                    BoxedUint::from_be_slice(bytes, bits.max(64))
                        .map_err(|_| key_error("the RSA JWK is malformed".into()))
                };
                let mut primes = Vec::new();
                if jwk.contains_key("p") || jwk.contains_key("q") {
                    primes.push(uint(&b64_member(&jwk, "p")?, bits)?);
                    primes.push(uint(&b64_member(&jwk, "q")?, bits)?);
                }
                let e_bits = u32::try_from(e.len() * 8)
                    .map_err(|_| key_error("the JWK's `e` is too large".into()))?;
                let key = rsa::PrivateKey::from_components(
                    uint(&n, bits)?,
                    uint(&e, e_bits)?,
                    uint(&d, bits)?,
                    primes,
                )
                .map_err(|e| key_error(format!("the RSA JWK is not a valid key: {e}")))?;
                SigningKey::rsa(key)
            }
            "OKP" => {
                return Err(key_error(
                    "EdDSA (OKP) keys are not supported; use ES256 or RS256".into(),
                ))
            }
            other => {
                return Err(key_error(format!(
                "JWK key type `{}` is not supported; use an EC P-256 (ES256) or RSA (RS256) key",
                shown(other)
            )))
            }
        };
        if let Some(alg) = jwk.get("alg").and_then(Json::as_str) {
            key.check_alg(Alg::parse(alg)?)?;
        }
        Ok(key)
    }

    fn rsa(key: rsa::PrivateKey) -> SigningKey {
        SigningKey {
            inner: Inner::Rs256(Box::new(rsa::pkcs1v15::SigningKey::<Sha256>::new(key))),
        }
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        match self.inner {
            Inner::Es256(_) => Alg::Es256,
            Inner::Rs256(_) => Alg::Rs256,
        }
    }

    /// Fails unless this key signs with `alg` (a configured `signing_alg` must fit the key).
    pub fn check_alg(&self, alg: Alg) -> Result<()> {
        if alg == self.alg() {
            return Ok(());
        }
        let kind = match self.inner {
            Inner::Es256(_) => "an EC P-256 key",
            Inner::Rs256(_) => "an RSA key",
        };
        Err(key_error(format!(
            "{alg} was asked for, but the key is {kind}, which signs {}",
            self.alg()
        )))
    }

    /// The signature over `signing_input`.
    pub fn sign_now(&self, signing_input: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            Inner::Es256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(signing_input);
                Ok(signature.to_bytes().to_vec())
            }
            Inner::Rs256(key) => {
                let signature = key
                    .try_sign(signing_input)
                    .map_err(|_| key_error("RSA signing failed".into()))?;
                Ok(rsa::signature::SignatureEncoding::to_vec(&signature))
            }
        }
    }

    /// The public half as a JWK, its members in sorted order (`crv`, `kty`, `x`, `y`;
    /// `e`, `kty`, `n`).
    pub fn public_jwk(&self) -> Object {
        match &self.inner {
            Inner::Es256(key) => {
                let point = key.verifying_key().as_affine().to_sec1_point(false);
                let coordinate = |c: Option<&[u8]>| crate::b64::url(c.unwrap_or_default());
                Object::new()
                    .with("crv", "P-256")
                    .with("kty", "EC")
                    .with("x", coordinate(point.x().map(|x| x.as_slice())))
                    .with("y", coordinate(point.y().map(|y| y.as_slice())))
            }
            Inner::Rs256(key) => {
                let public = key.as_ref().as_ref().as_public_key();
                Object::new()
                    .with("e", crate::b64::url(public.e_bytes()))
                    .with("kty", "RSA")
                    .with("n", crate::b64::url(public.n_bytes()))
            }
        }
    }

    /// The whole key as a private JWK (the public members plus `d`, in sorted order), for a
    /// host that keeps a software key in its store (DPoP). Only ES256 keys; `None` for RSA.
    pub fn private_jwk(&self) -> Option<Object> {
        let Inner::Es256(key) = &self.inner else {
            return None;
        };
        let mut jwk = self.public_jwk().with("d", crate::b64::url(key.to_bytes()));
        jwk.sort_keys();
        Some(jwk)
    }

    /// The RFC 7638 thumbprint of this key's public JWK.
    pub fn thumbprint(&self) -> Result<String> {
        jwk_thumbprint(&self.public_jwk())
    }
}

impl JwsSigner for SigningKey {
    fn alg(&self) -> Alg {
        SigningKey::alg(self)
    }
    fn public_jwk(&self) -> Object {
        SigningKey::public_jwk(self)
    }
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>> {
        self.sign_now(signing_input)
    }
}

fn from_pkcs8(der: &[u8]) -> Result<SigningKey> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|e| key_error(format!("the PKCS#8 PRIVATE KEY is malformed: {e}")))?;
    let oid = info.algorithm.oid;
    if oid == OID_EC_PUBLIC_KEY {
        let curve = info
            .algorithm
            .parameters_oid()
            .map_err(|_| key_error("the EC key names no curve".into()))?;
        if curve != OID_P256 {
            return Err(unsupported_curve_oid(curve));
        }
        let key = p256::SecretKey::try_from(info)
            .map_err(|e| key_error(format!("the P-256 key is malformed: {e}")))?;
        return Ok(SigningKey {
            inner: Inner::Es256(key.into()),
        });
    }
    if oid == OID_RSA_ENCRYPTION {
        return rsa::PrivateKey::try_from(info)
            .map(SigningKey::rsa)
            .map_err(|e| key_error(format!("the RSA key is malformed: {e}")));
    }
    Err(key_error(match oid.to_string().as_str() {
        "1.3.101.112" | "1.3.101.113" => {
            "EdDSA keys are not supported; use ES256 or RS256".to_string()
        }
        "1.2.840.113549.1.1.10" => "RSA-PSS keys are not supported; use ES256 or RS256".to_string(),
        other => format!("a key of algorithm {other} is not supported; use ES256 or RS256"),
    }))
}

fn from_sec1(der: &[u8]) -> Result<SigningKey> {
    let key = sec1::EcPrivateKey::from_der(der)
        .map_err(|e| key_error(format!("the EC PRIVATE KEY is malformed: {e}")))?;
    if let Some(curve) = key.parameters.and_then(|p| p.named_curve()) {
        if curve != OID_P256 {
            return Err(unsupported_curve_oid(curve));
        }
    }
    let key = p256::SecretKey::from_sec1_der(der)
        .map_err(|e| key_error(format!("the EC PRIVATE KEY is malformed: {e}")))?;
    Ok(SigningKey {
        inner: Inner::Es256(key.into()),
    })
}

fn unsupported_curve_oid(curve: pkcs8::ObjectIdentifier) -> Box<Error> {
    let name = match curve.to_string().as_str() {
        "1.3.132.0.34" => "P-384".to_string(),
        "1.3.132.0.35" => "P-521".to_string(),
        "1.3.132.0.10" => "secp256k1".to_string(),
        other => other.to_string(),
    };
    unsupported_curve(&name)
}

fn unsupported_curve(crv: &str) -> Box<Error> {
    let alg = match crv {
        "P-384" => "ES384",
        "P-521" => "ES512",
        "secp256k1" => "ES256K",
        _ => {
            return key_error(format!(
                "EC curve {} is not supported; use a P-256 key (ES256) or RSA (RS256)",
                shown(crv)
            ))
        }
    };
    key_error(format!(
        "{alg} ({crv}) is not supported; use ES256 (a P-256 key) or RS256"
    ))
}

fn b64_member(jwk: &Object, name: &str) -> Result<Vec<u8>> {
    crate::b64::url_decode(member(jwk, name)?)
        .ok_or_else(|| key_error(format!("the JWK's `{name}` is not base64url")))
}
