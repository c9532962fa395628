//! The browser's DPoP keys: a non-extractable WebCrypto ECDSA P-256 key per identity, kept
//! in IndexedDB (database `mcp-auth-dpop`, store `keys`, the identity as the key). A script
//! on the page (XSS) can make the client sign with it, but can never read the private key
//! out: `crypto.subtle.exportKey` refuses a key generated with `extractable: false`, and
//! IndexedDB keeps the `CryptoKey` object itself, not its bytes. WebCrypto's ECDSA
//! signature is already the raw `r || s` JWS wants.
//!
//! Used when the page has both `indexedDB` and `crypto.subtle` (browsers). Elsewhere (Node,
//! or `dpopKeys: "store"`) the key is the software key record of the shared store
//! (`dpop:<identity>`, the CLI's format, see [`store_key`]), signed with through WebCrypto
//! too: this build carries no signing code of its own (core without `software-keys`).

use crate::js::{get, message_of, set};
use js_sys::{Array, Function, Object, Promise, Uint8Array};
use mcp_auth_core::dpop::key::{load_record, save_record, DpopKeyRecord, KEY_RECORD_VERSION};
use mcp_auth_core::jose::Alg;
use mcp_auth_core::secret::DpopPrivateKey;
use mcp_auth_core::sorted::SortedMap;
use mcp_auth_core::{Host, HostError, HostResult, PublicJwk};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    CryptoKey, IdbDatabase, IdbFactory, IdbObjectStore, IdbOpenDbRequest, IdbTransactionMode,
    SubtleCrypto,
};

const DB_NAME: &str = "mcp-auth-dpop";
const STORE: &str = "keys";

fn fail(what: &str, e: &JsValue) -> Box<HostError> {
    HostError::Storage(format!("DPoP key ({what}): {}", message_of(e))).boxed()
}

fn idb() -> Option<IdbFactory> {
    let factory = get(&crate::js::global(), "indexedDB");
    factory.is_object().then(|| factory.unchecked_into())
}

/// `globalThis.crypto.subtle`, where there is one.
fn platform_subtle() -> Option<SubtleCrypto> {
    let subtle = get(&get(&crate::js::global(), "crypto"), "subtle");
    subtle.is_object().then(|| subtle.unchecked_into())
}

/// Whether this environment has what the browser keys need.
pub(crate) fn available() -> bool {
    idb().is_some() && platform_subtle().is_some()
}

/// Resolves with an IndexedDB request's `result`, rejects with its `error`. The promise's own
/// `resolve` and `reject` are the request's handlers (they get the event), and the outcome is
/// read from the request afterwards: no Rust closure per request.
async fn request_done(req: &JsValue) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        set(req, "onsuccess", &resolve);
        set(req, "onerror", &reject);
    });
    match JsFuture::from(promise).await {
        Ok(_) => Ok(get(req, "result")),
        Err(_) => Err(get(req, "error")),
    }
}

/// The keys of one client: IndexedDB opened once, keys read once.
#[derive(Default)]
pub(crate) struct WebCryptoKeys {
    db: RefCell<Option<IdbDatabase>>,
    cache: RefCell<SortedMap<(CryptoKey, PublicJwk)>>,
}

impl WebCryptoKeys {
    /// The key store, in a transaction of `mode`; the database is opened once.
    async fn store(&self, mode: IdbTransactionMode) -> HostResult<IdbObjectStore> {
        let cached = self.db.borrow().clone();
        let db = match cached {
            Some(db) => db,
            None => {
                let idb = idb().ok_or_else(|| fail("open", &"no indexedDB".into()))?;
                let req: IdbOpenDbRequest = idb
                    .open_with_u32(DB_NAME, 1)
                    .map_err(|e| fail("open", &e))?;
                let r = req.clone();
                let upgrade = Closure::once_into_js(move || {
                    let _ = get(&r, "result")
                        .unchecked_into::<IdbDatabase>()
                        .create_object_store(STORE);
                });
                set(&req, "onupgradeneeded", &upgrade);
                let db: IdbDatabase = request_done(&req)
                    .await
                    .map_err(|e| fail("open", &e))?
                    .unchecked_into();
                *self.db.borrow_mut() = Some(db.clone());
                db
            }
        };
        db.transaction_with_str_and_mode(STORE, mode)
            .and_then(|tx| tx.object_store(STORE))
            .map_err(|e| fail("transaction", &e))
    }

    async fn read(&self, identity: &str) -> HostResult<Option<(CryptoKey, PublicJwk)>> {
        if let Some(hit) = self.cache.borrow().get(identity) {
            return Ok(Some(hit.clone()));
        }
        let store = self.store(IdbTransactionMode::Readonly).await?;
        let req = store.get(&identity.into()).map_err(|e| fail("read", &e))?;
        let rec = request_done(&req).await.map_err(|e| fail("read", &e))?;
        if !rec.is_object() {
            return Ok(None);
        }
        let key: CryptoKey = get(&rec, "privateKey").unchecked_into();
        let jwk = jwk_of(&get(&rec, "jwk"))?;
        self.cache
            .borrow_mut()
            .insert(identity.to_string(), (key.clone(), jwk.clone()));
        Ok(Some((key, jwk)))
    }

    /// A new non-extractable key pair, stored under the identity.
    async fn create(&self, identity: &str) -> HostResult<(CryptoKey, PublicJwk)> {
        let pair = generate(false).await?;
        // the public half is always exportable; only it leaves WebCrypto
        let jwk = jwk_of(&export_jwk(&get(&pair, "publicKey").unchecked_into()).await?)?;
        let rec = Object::new();
        let private: CryptoKey = get(&pair, "privateKey").unchecked_into();
        set(&rec, "privateKey", &private);
        set(&rec, "jwk", &js_jwk(&jwk, None));
        let store = self.store(IdbTransactionMode::Readwrite).await?;
        let req = store
            .put_with_key(&rec, &identity.into())
            .map_err(|e| fail("write", &e))?;
        request_done(&req).await.map_err(|e| fail("write", &e))?;
        self.cache
            .borrow_mut()
            .insert(identity.to_string(), (private.clone(), jwk.clone()));
        Ok((private, jwk))
    }

    /// The identity's key, created when there is none, under the host's lock for the key
    /// (which serialises the creation with other tabs when the page gave a lock).
    pub(crate) async fn key<H: Host>(
        &self,
        host: &H,
        identity: &str,
    ) -> HostResult<(CryptoKey, PublicJwk)> {
        if let Some(k) = self.read(identity).await? {
            return Ok(k);
        }
        let _guard = host
            .lock(&mcp_auth_core::dpop::key::key_name(identity))
            .await?;
        if let Some(k) = self.read(identity).await? {
            return Ok(k);
        }
        self.create(identity).await
    }

    pub(crate) async fn forget(&self, identity: &str) -> HostResult<()> {
        self.cache.borrow_mut().remove(identity);
        let store = self.store(IdbTransactionMode::Readwrite).await?;
        let req = store
            .delete(&identity.into())
            .map_err(|e| fail("delete", &e))?;
        request_done(&req).await.map_err(|e| fail("delete", &e))?;
        Ok(())
    }
}

pub(crate) fn subtle() -> HostResult<SubtleCrypto> {
    platform_subtle().ok_or_else(|| {
        HostError::Storage(
            "DPoP needs WebCrypto (globalThis.crypto.subtle), which this JavaScript environment lacks (Node 19 or later has it)".into(),
        ).boxed()
    })
}

pub(crate) async fn settle(what: &str, v: Result<Promise, JsValue>) -> HostResult<JsValue> {
    let v = v.map_err(|e| fail(what, &e))?;
    JsFuture::from(v).await.map_err(|e| fail(what, &e))
}

fn ecdsa_p256() -> Object {
    algorithm(Alg::Es256, true)
}

/// WebCrypto's algorithm parameters for `alg`: to import or generate a key (`for_import`),
/// else to sign.
pub(crate) fn algorithm(alg: Alg, for_import: bool) -> Object {
    let a = Object::new();
    let set = |k: &str, v: &str| set(&a, k, &JsValue::from_str(v));
    match alg {
        Alg::Es256 => {
            set("name", "ECDSA");
            if for_import {
                set("namedCurve", "P-256");
            } else {
                set("hash", "SHA-256");
            }
        }
        Alg::Rs256 => {
            set("name", "RSASSA-PKCS1-v1_5");
            if for_import {
                set("hash", "SHA-256");
            }
        }
    }
    a
}

pub(crate) fn sign_usage() -> JsValue {
    Array::of1(&"sign".into()).into()
}

/// A new ECDSA P-256 key pair.
async fn generate(extractable: bool) -> HostResult<JsValue> {
    let r = subtle()?.generate_key_with_object(&ecdsa_p256(), extractable, &sign_usage());
    settle("generateKey", r).await
}

async fn export_jwk(key: &CryptoKey) -> HostResult<JsValue> {
    settle("exportKey", subtle()?.export_key("jwk", key)).await
}

/// An ES256 signature (WebCrypto's ECDSA output is the raw r || s JWS wants).
pub(crate) async fn sign(key: &CryptoKey, input: &[u8]) -> HostResult<Vec<u8>> {
    let alg = algorithm(Alg::Es256, false);
    let sig = settle(
        "sign",
        subtle()?.sign_with_object_and_u8_array(&alg, key, input),
    )
    .await?;
    Ok(crate::js::bytes(&Uint8Array::new(&sig)))
}

/// The identity's key record in the host's store (the CLI's format), created through
/// WebCrypto under the host's lock when there is none.
pub(crate) async fn store_key<H: Host>(host: &H, identity: &str) -> HostResult<DpopKeyRecord> {
    if let Some(rec) = load_record(host, identity).await? {
        return Ok(rec);
    }
    let _guard = host
        .lock(&mcp_auth_core::dpop::key::key_name(identity))
        .await?;
    if let Some(rec) = load_record(host, identity).await? {
        return Ok(rec);
    }
    let pair = generate(true).await?;
    let private = export_jwk(&get(&pair, "privateKey").unchecked_into()).await?;
    let d = get(&private, "d")
        .as_string()
        .ok_or_else(|| HostError::Storage("DPoP key: WebCrypto exported no `d`".into()).boxed())?;
    let rec = DpopKeyRecord {
        version: KEY_RECORD_VERSION,
        alg: mcp_auth_core::dpop::DPOP_ALG.into(),
        jwk: jwk_of(&private)?,
        d: DpopPrivateKey::new(d),
        created_at: host.now(),
    };
    save_record(host, identity, &rec).await?;
    Ok(rec)
}

/// Signs with the store's key record, imported into WebCrypto (not extractable) for the call.
pub(crate) async fn store_sign<H: Host>(
    host: &H,
    identity: &str,
    input: &[u8],
) -> HostResult<Vec<u8>> {
    let rec = store_key(host, identity).await?;
    let jwk = js_jwk(&rec.jwk, Some(rec.d.secret()));
    let r = subtle()?.import_key_with_object("jwk", &jwk, &ecdsa_p256(), false, &sign_usage());
    let key: CryptoKey = settle("importKey", r).await?.unchecked_into();
    sign(&key, input).await
}

/// A JWK as WebCrypto takes it: the public members, and the private `d` when given.
fn js_jwk(jwk: &PublicJwk, d: Option<&str>) -> Object {
    let o = Object::new();
    for (name, value) in [
        ("kty", &jwk.kty),
        ("crv", &jwk.crv),
        ("x", &jwk.x),
        ("y", &jwk.y),
    ] {
        set(&o, name, &JsValue::from_str(value));
    }
    if let Some(d) = d {
        set(&o, "d", &JsValue::from_str(d));
    }
    o
}

/// The public members of a JWK that WebCrypto exported or the store kept (a missing or
/// non-string member reads as empty, which the check refuses).
fn jwk_of(v: &JsValue) -> HostResult<PublicJwk> {
    let member = |name| get(v, name).as_string().unwrap_or_default();
    let jwk = PublicJwk {
        kty: member("kty"),
        crv: member("crv"),
        x: member("x"),
        y: member("y"),
    };
    jwk.check()
        .map_err(|e| HostError::Storage(format!("the stored DPoP key is unusable: {e}")))?;
    Ok(jwk)
}
