//! Without the `software-keys` feature there are no private keys in memory: the build signs
//! only through keys its host holds (the wasm build: WebCrypto). [`SigningKey`] still exists
//! so the options and flows that take one compile, but none can be made: reading or
//! generating one fails with a clear error, and the type has no values.

use super::{key_error, Alg, JwsSigner};
use crate::error::Result;
use serde_json::{Map, Value};
use std::convert::Infallible;
use std::fmt;

/// A private key in memory; this build has none (see the module documentation).
#[derive(Clone)]
pub struct SigningKey {
    never: Infallible,
}

fn unavailable<T>() -> Result<T> {
    Err(key_error(
        "this build of mcp-auth keeps no private keys in memory (built without the `software-keys` feature); the host's keys sign instead".into(),
    ))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.never {}
    }
}

impl SigningKey {
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
        match self.never {}
    }
    pub fn check_alg(&self, _alg: Alg) -> Result<()> {
        match self.never {}
    }
    pub fn sign_now(&self, _signing_input: &[u8]) -> Result<Vec<u8>> {
        match self.never {}
    }
    pub fn public_jwk(&self) -> Map<String, Value> {
        match self.never {}
    }
    pub fn private_jwk(&self) -> Option<Map<String, Value>> {
        match self.never {}
    }
    pub fn thumbprint(&self) -> Result<String> {
        match self.never {}
    }
}

impl JwsSigner for SigningKey {
    fn alg(&self) -> Alg {
        match self.never {}
    }
    fn public_jwk(&self) -> Map<String, Value> {
        match self.never {}
    }
    async fn sign(&self, _signing_input: &[u8]) -> Result<Vec<u8>> {
        match self.never {}
    }
}
