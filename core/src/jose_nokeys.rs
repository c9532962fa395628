//! Without the `software-keys` feature there are no private keys in memory: the build signs
//! only through keys its host holds (the wasm build: WebCrypto). A [`SigningKey`] here is a
//! handle to such a key ([`SigningKey::held_by_host`]); reading or generating one from key
//! material fails with a clear error.

use super::{jwk_thumbprint, key_error, Alg, JwsSigner};
use crate::error::Result;
use crate::json::Object;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// A private key the host holds: core asks it to sign and never sees it.
pub trait HostKey {
    /// The algorithm it signs with.
    fn alg(&self) -> Alg;
    /// Its public key as a JWK when the host knows it (empty when it does not: a client
    /// assertion does not need it).
    fn public_jwk(&self) -> Object;
    /// The JWS signature over `signing_input` (ES256: the 64-byte `r || s`).
    fn sign<'a>(
        &'a self,
        signing_input: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Result<Vec<u8>>> + 'a>>;
}

/// A private key the host holds (see the module documentation).
#[derive(Clone)]
pub struct SigningKey {
    host: Rc<dyn HostKey>,
}

fn unavailable<T>() -> Result<T> {
    Err(key_error(
        "this build of mcp-auth keeps no private keys in memory (built without the `software-keys` feature); the host's keys sign instead".into(),
    ))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({}, held by the host)",
            self.host.alg().as_str()
        )
    }
}

impl SigningKey {
    /// A handle to a key the host holds.
    pub fn held_by_host(key: impl HostKey + 'static) -> SigningKey {
        SigningKey { host: Rc::new(key) }
    }
    /// Fails: no keys in memory in this build.
    pub fn generate_es256() -> Result<SigningKey> {
        unavailable()
    }
    /// Fails: no keys in memory in this build.
    pub fn parse(_text: &str) -> Result<SigningKey> {
        unavailable()
    }
    /// Fails: no keys in memory in this build.
    pub fn from_pem(_pem: &str) -> Result<SigningKey> {
        unavailable()
    }
    /// Fails: no keys in memory in this build.
    pub fn from_jwk(_json: &str) -> Result<SigningKey> {
        unavailable()
    }
    pub fn alg(&self) -> Alg {
        self.host.alg()
    }
    /// Fails unless the key signs with `alg`.
    pub fn check_alg(&self, alg: Alg) -> Result<()> {
        if self.alg() == alg {
            Ok(())
        } else {
            Err(key_error(format!(
                "the key signs {}, not {}",
                self.alg().as_str(),
                alg.as_str()
            )))
        }
    }
    /// Fails: a host-held key signs asynchronously (through [`JwsSigner::sign`]).
    pub fn sign_now(&self, _signing_input: &[u8]) -> Result<Vec<u8>> {
        unavailable()
    }
    pub fn public_jwk(&self) -> Object {
        self.host.public_jwk()
    }
    /// Always `None`: the host never gives its private key out.
    pub fn private_jwk(&self) -> Option<Object> {
        None
    }
    pub fn thumbprint(&self) -> Result<String> {
        jwk_thumbprint(&self.host.public_jwk())
    }
}

impl JwsSigner for SigningKey {
    fn alg(&self) -> Alg {
        self.host.alg()
    }
    fn public_jwk(&self) -> Object {
        self.host.public_jwk()
    }
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>> {
        self.host.sign(signing_input).await
    }
}
