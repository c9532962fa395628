//! The default DPoP key of a host: a software P-256 key, created on first use and kept as a
//! record (`dpop:<identity>`) in the same store as the tokens, so every host that shares a
//! store (the CLI and a Node tool on one file store) signs with the same key. The browser
//! host overrides this with a non-extractable WebCrypto key.

use super::PublicJwk;
use crate::host::{Host, HostError};
use crate::secret::DpopPrivateKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde::{Deserialize, Serialize};

/// The version of the key record this build writes.
pub const KEY_RECORD_VERSION: u32 = 1;

/// The store key of an identity's DPoP key record.
pub fn key_name(identity: &str) -> String {
    format!("dpop:{identity}")
}

/// A software DPoP key as it is stored: the private scalar (`d`, base64url) and the public
/// JWK. `Debug` redacts the private part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DpopKeyRecord {
    pub version: u32,
    pub alg: String,
    pub jwk: PublicJwk,
    pub d: DpopPrivateKey,
    pub created_at: u64,
}

impl DpopKeyRecord {
    /// A new random key.
    pub fn generate(now: u64) -> Result<Self, HostError> {
        // a random scalar; the rare values outside [1, n) are drawn again
        for _ in 0..8 {
            let bytes = crate::pkce::random_bytes(32)
                .map_err(|e| HostError::Storage(format!("cannot create a DPoP key: {e}")))?;
            if let Ok(key) = SigningKey::from_slice(&bytes) {
                return Ok(Self::from_signing_key(&key, now));
            }
        }
        Err(HostError::Storage(
            "cannot create a DPoP key: the random source keeps giving invalid scalars".into(),
        ))
    }

    fn from_signing_key(key: &SigningKey, now: u64) -> Self {
        let point = key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        // uncompressed SEC1: 0x04 || x (32) || y (32)
        let (x, y) = bytes.get(1..).unwrap_or_default().split_at(32);
        DpopKeyRecord {
            version: KEY_RECORD_VERSION,
            alg: super::DPOP_ALG.into(),
            jwk: PublicJwk::p256(x, y),
            d: DpopPrivateKey::new(URL_SAFE_NO_PAD.encode(key.to_bytes())),
            created_at: now,
        }
    }

    fn signing_key(&self, name: &str) -> Result<SigningKey, HostError> {
        let unreadable = |why: &str| {
            HostError::Storage(format!(
                "the DPoP key record `{name}` is unreadable ({why}); clear the identity and log in again"
            ))
        };
        let d = URL_SAFE_NO_PAD
            .decode(self.d.secret())
            .map_err(|_| unreadable("not base64url"))?;
        let key = SigningKey::from_slice(&d).map_err(|_| unreadable("not a P-256 key"))?;
        if Self::from_signing_key(&key, self.created_at).jwk != self.jwk {
            return Err(unreadable("its public and private halves differ"));
        }
        Ok(key)
    }

    /// An ES256 signature (raw r || s, 64 bytes, as JWS wants it).
    pub fn sign(&self, name: &str, input: &[u8]) -> Result<Vec<u8>, HostError> {
        let sig: Signature = self.signing_key(name)?.sign(input);
        Ok(sig.to_bytes().to_vec())
    }
}

async fn read<H: Host + ?Sized>(host: &H, name: &str) -> Result<Option<DpopKeyRecord>, HostError> {
    let Some(text) = host.load(name).await? else {
        return Ok(None);
    };
    let rec: DpopKeyRecord = serde_json::from_str(&text).map_err(|e| {
        HostError::Storage(format!(
            "the DPoP key record `{name}` is unreadable ({e}); clear the identity and log in again"
        ))
    })?;
    if rec.version > KEY_RECORD_VERSION {
        return Err(HostError::Storage(format!(
            "the DPoP key record `{name}` was written by a newer mcp-auth; upgrade mcp-auth"
        )));
    }
    Ok(Some(rec))
}

/// The identity's key record, created (under the host's lock, re-read inside it, so two
/// processes never make two keys) when there is none.
pub async fn load_or_create<H: Host + ?Sized>(
    host: &H,
    identity: &str,
) -> Result<DpopKeyRecord, HostError> {
    let name = key_name(identity);
    if let Some(rec) = read(host, &name).await? {
        return Ok(rec);
    }
    let _lock = host.lock(&name).await?;
    if let Some(rec) = read(host, &name).await? {
        return Ok(rec);
    }
    let rec = DpopKeyRecord::generate(host.now())?;
    let text = serde_json::to_string(&rec)
        .map_err(|e| HostError::Storage(format!("cannot encode the DPoP key record: {e}")))?;
    host.save(&name, &text).await?;
    Ok(rec)
}

/// [`Host::dpop_key`]'s default: the public half of the stored software key.
pub async fn software_public_key<H: Host + ?Sized>(
    host: &H,
    identity: &str,
) -> Result<PublicJwk, HostError> {
    Ok(load_or_create(host, identity).await?.jwk)
}

/// [`Host::dpop_sign`]'s default: signs with the stored software key.
pub async fn software_sign<H: Host + ?Sized>(
    host: &H,
    identity: &str,
    input: &[u8],
) -> Result<Vec<u8>, HostError> {
    load_or_create(host, identity)
        .await?
        .sign(&key_name(identity), input)
}
