//! The default DPoP key of a host: a software P-256 key, created on first use and kept as a
//! record (`dpop:<identity>`) in the same store as the tokens, so every host that shares a
//! store (the CLI and a Node tool on one file store) signs with the same key. The browser
//! host overrides this with a non-extractable WebCrypto key.

use super::PublicJwk;
use crate::host::{Host, HostError, HostResult};
use crate::jose::{Alg, SigningKey};
use crate::json::{self, Json};
use crate::secret::DpopPrivateKey;

/// The version of the key record this build writes.
pub const KEY_RECORD_VERSION: u32 = 1;

/// The store key of an identity's DPoP key record.
pub fn key_name(identity: &str) -> String {
    format!("dpop:{identity}")
}

/// A software DPoP key as it is stored: the private scalar (`d`, base64url) and the public
/// JWK. `Debug` redacts the private part.
#[derive(Clone, Debug)]
pub struct DpopKeyRecord {
    pub version: u32,
    pub alg: String,
    pub jwk: PublicJwk,
    pub d: DpopPrivateKey,
    pub created_at: u64,
}

crate::json_struct!(DpopKeyRecord {
    version,
    alg,
    jwk,
    d,
    created_at,
});

impl DpopKeyRecord {
    /// A new random key.
    pub fn generate(now: u64) -> HostResult<Self> {
        let key = SigningKey::generate_es256().map_err(storage)?;
        let private = key
            .private_jwk()
            .ok_or_else(|| HostError::Storage("cannot create a DPoP key".into()).boxed())?;
        let public = key.public_jwk();
        let member = |name: &str| {
            public
                .get(name)
                .and_then(Json::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    HostError::Storage(format!("cannot create a DPoP key: no `{name}`")).boxed()
                })
        };
        let jwk = PublicJwk {
            kty: member("kty")?,
            crv: member("crv")?,
            x: member("x")?,
            y: member("y")?,
        };
        let d = private
            .get("d")
            .and_then(Json::as_str)
            .ok_or_else(|| HostError::Storage("cannot create a DPoP key".into()).boxed())?;
        Ok(DpopKeyRecord {
            version: KEY_RECORD_VERSION,
            alg: super::DPOP_ALG.into(),
            jwk,
            d: DpopPrivateKey::new(d),
            created_at: now,
        })
    }

    /// The key in memory (its public half checked against the private one).
    pub fn signing_key(&self, name: &str) -> HostResult<SigningKey> {
        let jwk = self.jwk.to_map().with("d", self.d.secret());
        let text = json::print(&Json::Object(jwk));
        SigningKey::from_jwk(&text)
            .and_then(|k| k.check_alg(Alg::Es256).map(|()| k))
            .map_err(|e| {
                HostError::Storage(format!(
                    "the DPoP key record `{name}` is unusable ({e}); clear the identity and log in again"
                ))
                .boxed()
            })
    }

    /// An ES256 signature (raw r || s, 64 bytes, as JWS wants it).
    pub fn sign(&self, name: &str, input: &[u8]) -> HostResult<Vec<u8>> {
        self.signing_key(name)?.sign_now(input).map_err(storage)
    }
}

fn storage(e: Box<crate::error::Error>) -> Box<HostError> {
    HostError::Storage(format!("DPoP key: {e}")).boxed()
}

/// The identity's key record as stored (`None`: no key yet). Hosts that sign with the
/// record's key through their own crypto (the wasm build in Node, through WebCrypto) read it
/// here, so every host agrees on one format.
pub async fn load_record<H: Host + ?Sized>(
    host: &H,
    identity: &str,
) -> HostResult<Option<DpopKeyRecord>> {
    read(host, &key_name(identity)).await
}

/// Stores a key record made by the host (see [`load_record`]).
pub async fn save_record<H: Host + ?Sized>(
    host: &H,
    identity: &str,
    record: &DpopKeyRecord,
) -> HostResult<()> {
    let text = crate::json::to_string(record);
    host.save(&key_name(identity), &text).await
}

async fn read<H: Host + ?Sized>(host: &H, name: &str) -> HostResult<Option<DpopKeyRecord>> {
    let Some(text) = host.load(name).await? else {
        return Ok(None);
    };
    let rec: DpopKeyRecord = crate::json::from_slice(text.as_bytes()).map_err(|e| {
        HostError::Storage(format!(
            "the DPoP key record `{name}` is unreadable ({e}); clear the identity and log in again"
        ))
        .boxed()
    })?;
    if rec.version > KEY_RECORD_VERSION {
        return Err(HostError::Storage(format!(
            "the DPoP key record `{name}` was written by a newer mcp-auth; upgrade mcp-auth"
        ))
        .boxed());
    }
    Ok(Some(rec))
}

/// The identity's key record, created (under the host's lock, re-read inside it, so two
/// processes never make two keys) when there is none.
pub async fn load_or_create<H: Host + ?Sized>(
    host: &H,
    identity: &str,
) -> HostResult<DpopKeyRecord> {
    let name = key_name(identity);
    if let Some(rec) = read(host, &name).await? {
        return Ok(rec);
    }
    let _lock = host.lock(&name).await?;
    if let Some(rec) = read(host, &name).await? {
        return Ok(rec);
    }
    let rec = DpopKeyRecord::generate(host.now())?;
    save_record(host, identity, &rec).await?;
    Ok(rec)
}

/// [`Host::dpop_key`]'s default: the public half of the stored software key.
pub async fn software_public_key<H: Host + ?Sized>(
    host: &H,
    identity: &str,
) -> HostResult<PublicJwk> {
    Ok(load_or_create(host, identity).await?.jwk)
}

/// [`Host::dpop_sign`]'s default: signs with the stored software key.
pub async fn software_sign<H: Host + ?Sized>(
    host: &H,
    identity: &str,
    input: &[u8],
) -> HostResult<Vec<u8>> {
    load_or_create(host, identity)
        .await?
        .sign(&key_name(identity), input)
}
