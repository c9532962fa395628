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
use mcp_auth_core::secret::DpopPrivateKey;
use mcp_auth_core::{Host, HostError, PublicJwk};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

const DB_NAME: &str = "mcp-auth-dpop";
const STORE: &str = "keys";

fn fail(what: &str, e: &JsValue) -> HostError {
    HostError::Storage(format!("DPoP key ({what}): {}", message_of(e)))
}

/// Calls `target[name](...args)`.
pub(crate) fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(target, name).dyn_into()?;
    f.apply(target, &args.iter().collect::<Array>())
}

/// Whether this environment has what the browser keys need.
pub(crate) fn available() -> bool {
    let global = js_sys::global();
    get(&global, "indexedDB").is_object() && get(&get(&global, "crypto"), "subtle").is_object()
}

/// Resolves with an IndexedDB request's `result`, rejects with its `error`.
async fn request_done(req: JsValue) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve: Function, reject: Function| {
        let r = req.clone();
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call1(&JsValue::UNDEFINED, &get(&r, "result"));
        });
        let r = req.clone();
        let err = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::UNDEFINED, &get(&r, "error"));
        });
        set(&req, "onsuccess", &ok);
        set(&req, "onerror", &err);
    });
    JsFuture::from(promise).await
}

/// The keys of one client: IndexedDB opened once, keys read once.
#[derive(Default)]
pub(crate) struct WebCryptoKeys {
    db: RefCell<Option<JsValue>>,
    cache: RefCell<HashMap<String, (JsValue, PublicJwk)>>,
}

impl WebCryptoKeys {
    async fn db(&self) -> Result<JsValue, HostError> {
        if let Some(db) = self.db.borrow().clone() {
            return Ok(db);
        }
        let idb = get(&js_sys::global(), "indexedDB");
        let req = call(&idb, "open", &[DB_NAME.into(), 1.into()]).map_err(|e| fail("open", &e))?;
        let r = req.clone();
        let upgrade = Closure::once_into_js(move || {
            let db = get(&r, "result");
            let _ = call(&db, "createObjectStore", &[STORE.into()]);
        });
        set(&req, "onupgradeneeded", &upgrade);
        let db = request_done(req).await.map_err(|e| fail("open", &e))?;
        *self.db.borrow_mut() = Some(db.clone());
        Ok(db)
    }

    async fn store(&self, mode: &str) -> Result<JsValue, HostError> {
        let db = self.db().await?;
        let tx = call(&db, "transaction", &[STORE.into(), mode.into()])
            .map_err(|e| fail("transaction", &e))?;
        call(&tx, "objectStore", &[STORE.into()]).map_err(|e| fail("transaction", &e))
    }

    async fn read(&self, identity: &str) -> Result<Option<(JsValue, PublicJwk)>, HostError> {
        if let Some(hit) = self.cache.borrow().get(identity) {
            return Ok(Some(hit.clone()));
        }
        let store = self.store("readonly").await?;
        let req = call(&store, "get", &[identity.into()]).map_err(|e| fail("read", &e))?;
        let rec = request_done(req).await.map_err(|e| fail("read", &e))?;
        if !rec.is_object() {
            return Ok(None);
        }
        let key = get(&rec, "privateKey");
        let jwk = jwk_of(&get(&rec, "jwk"))?;
        self.cache
            .borrow_mut()
            .insert(identity.to_string(), (key.clone(), jwk.clone()));
        Ok(Some((key, jwk)))
    }

    /// A new non-extractable key pair, stored under the identity.
    async fn create(&self, identity: &str) -> Result<(JsValue, PublicJwk), HostError> {
        let pair = generate(false).await?;
        // the public half is always exportable; only it leaves WebCrypto
        let jwk = jwk_of(&export_jwk(&get(&pair, "publicKey")).await?)?;
        let rec = Object::new();
        let private = get(&pair, "privateKey");
        set(&rec, "privateKey", &private);
        let plain = Object::new();
        for (k, v) in [
            ("kty", &jwk.kty),
            ("crv", &jwk.crv),
            ("x", &jwk.x),
            ("y", &jwk.y),
        ] {
            set(&plain, k, &v.as_str().into());
        }
        set(&rec, "jwk", &plain);
        let store = self.store("readwrite").await?;
        let req =
            call(&store, "put", &[rec.into(), identity.into()]).map_err(|e| fail("write", &e))?;
        request_done(req).await.map_err(|e| fail("write", &e))?;
        self.cache
            .borrow_mut()
            .insert(identity.to_string(), (private.clone(), jwk.clone()));
        Ok((private, jwk))
    }

    /// The identity's key, created when there is none. `lock` serialises the creation with
    /// other tabs (the host's lock, when the page gave one).
    pub(crate) async fn key<F, Fut>(
        &self,
        identity: &str,
        lock: F,
    ) -> Result<(JsValue, PublicJwk), HostError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<mcp_auth_core::HostLock, HostError>>,
    {
        if let Some(k) = self.read(identity).await? {
            return Ok(k);
        }
        let _guard = lock().await?;
        if let Some(k) = self.read(identity).await? {
            return Ok(k);
        }
        self.create(identity).await
    }

    pub(crate) async fn forget(&self, identity: &str) -> Result<(), HostError> {
        self.cache.borrow_mut().remove(identity);
        let store = self.store("readwrite").await?;
        let req = call(&store, "delete", &[identity.into()]).map_err(|e| fail("delete", &e))?;
        request_done(req).await.map_err(|e| fail("delete", &e))?;
        Ok(())
    }
}

pub(crate) fn subtle() -> Result<JsValue, HostError> {
    let subtle = get(&get(&js_sys::global(), "crypto"), "subtle");
    if subtle.is_object() {
        Ok(subtle)
    } else {
        Err(HostError::Storage(
            "DPoP needs WebCrypto (globalThis.crypto.subtle), which this JavaScript environment lacks (Node 19 or later has it)".into(),
        ))
    }
}

pub(crate) async fn settle(what: &str, v: Result<JsValue, JsValue>) -> Result<JsValue, HostError> {
    let v = v.map_err(|e| fail(what, &e))?;
    JsFuture::from(Promise::resolve(&v))
        .await
        .map_err(|e| fail(what, &e))
}

fn ecdsa_p256() -> JsValue {
    let alg = Object::new();
    set(&alg, "name", &"ECDSA".into());
    set(&alg, "namedCurve", &"P-256".into());
    alg.into()
}

pub(crate) fn sign_usage() -> JsValue {
    [JsValue::from("sign")]
        .into_iter()
        .collect::<Array>()
        .into()
}

/// A new ECDSA P-256 key pair.
async fn generate(extractable: bool) -> Result<JsValue, HostError> {
    let s = subtle()?;
    let r = call(
        &s,
        "generateKey",
        &[ecdsa_p256(), extractable.into(), sign_usage()],
    );
    settle("generateKey", r).await
}

async fn export_jwk(key: &JsValue) -> Result<JsValue, HostError> {
    let s = subtle()?;
    settle(
        "exportKey",
        call(&s, "exportKey", &["jwk".into(), key.clone()]),
    )
    .await
}

/// An ES256 signature (WebCrypto's ECDSA output is the raw r || s JWS wants).
pub(crate) async fn sign(key: &JsValue, input: &[u8]) -> Result<Vec<u8>, HostError> {
    let s = subtle()?;
    let alg = Object::new();
    set(&alg, "name", &"ECDSA".into());
    set(&alg, "hash", &"SHA-256".into());
    let data = Uint8Array::from(input);
    let sig = settle(
        "sign",
        call(&s, "sign", &[alg.into(), key.clone(), data.into()]),
    )
    .await?;
    Ok(Uint8Array::new(&sig).to_vec())
}

/// The identity's key record in the host's store (the CLI's format), created through
/// WebCrypto under the host's lock when there is none.
pub(crate) async fn store_key<H: Host>(
    host: &H,
    identity: &str,
) -> Result<DpopKeyRecord, HostError> {
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
    let private = export_jwk(&get(&pair, "privateKey")).await?;
    let d = get(&private, "d")
        .as_string()
        .ok_or_else(|| HostError::Storage("DPoP key: WebCrypto exported no `d`".into()))?;
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
) -> Result<Vec<u8>, HostError> {
    let rec = store_key(host, identity).await?;
    let jwk = Object::new();
    for (k, v) in [
        ("kty", rec.jwk.kty.as_str()),
        ("crv", rec.jwk.crv.as_str()),
        ("x", rec.jwk.x.as_str()),
        ("y", rec.jwk.y.as_str()),
        ("d", rec.d.secret()),
    ] {
        set(&jwk, k, &v.into());
    }
    let s = subtle()?;
    let key = settle(
        "importKey",
        call(
            &s,
            "importKey",
            &[
                "jwk".into(),
                jwk.into(),
                ecdsa_p256(),
                false.into(),
                sign_usage(),
            ],
        ),
    )
    .await?;
    sign(&key, input).await
}

fn jwk_of(v: &JsValue) -> Result<PublicJwk, HostError> {
    let s = |name: &str| get(v, name).as_string().unwrap_or_default();
    let jwk = PublicJwk {
        kty: s("kty"),
        crv: s("crv"),
        x: s("x"),
        y: s("y"),
    };
    jwk.check()
        .map_err(|e| HostError::Storage(format!("the stored DPoP key is unusable: {e}")))?;
    Ok(jwk)
}
