//! An in-memory host for unit tests of core's pure logic: a map as the store, a log of the
//! requests sent, answers from a function of the request, a settable clock. (End-to-end
//! tests use the real hosts against the testkit.)

use crate::host::{Host, HostError, HostResult, HttpRequest, HttpResponse};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

type Responder = Box<dyn Fn(&HttpRequest) -> HttpResponse>;

/// A reproducible stream of pseudo-random numbers (xorshift64) for tests that compare core's
/// answers with a reference over many generated inputs.
pub(crate) fn numbers(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

pub(crate) struct MemHost {
    pub map: RefCell<HashMap<String, String>>,
    pub sent: RefCell<Vec<HttpRequest>>,
    pub now: Cell<u64>,
    /// How many of the next saves fail (a locked keyring, a full disk).
    pub failing_saves: Cell<u32>,
    respond: Responder,
}

impl MemHost {
    pub fn new(respond: impl Fn(&HttpRequest) -> HttpResponse + 'static) -> Self {
        MemHost {
            map: RefCell::new(HashMap::new()),
            sent: RefCell::new(Vec::new()),
            now: Cell::new(1000),
            failing_saves: Cell::new(0),
            respond: Box::new(respond),
        }
    }
    pub fn put(&self, key: &str, value: &serde_json::Value) {
        self.map.borrow_mut().insert(key.into(), value.to_string());
    }
    pub fn get(&self, key: &str) -> Option<serde_json::Value> {
        let text = self.map.borrow().get(key).cloned()?;
        serde_json::from_str(&text).ok()
    }
    pub fn sent_urls(&self) -> Vec<String> {
        self.sent.borrow().iter().map(|r| r.url.clone()).collect()
    }
}

/// A JSON answer.
pub(crate) fn json(status: u16, body: &serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

impl Host for MemHost {
    async fn send(&self, r: HttpRequest) -> HostResult<HttpResponse> {
        let resp = (self.respond)(&r);
        self.sent.borrow_mut().push(r);
        Ok(resp)
    }
    async fn load(&self, k: &str) -> HostResult<Option<String>> {
        Ok(self.map.borrow().get(k).cloned())
    }
    async fn save(&self, k: &str, v: &str) -> HostResult<()> {
        if self.failing_saves.get() > 0 {
            self.failing_saves.set(self.failing_saves.get() - 1);
            return Err(HostError::Storage(format!("the keyring is locked (saving {k})")).boxed());
        }
        self.map.borrow_mut().insert(k.into(), v.into());
        Ok(())
    }
    async fn remove(&self, k: &str) -> HostResult<()> {
        self.map.borrow_mut().remove(k);
        Ok(())
    }
    async fn authorize(&self, _: &str, _: &str) -> HostResult<Option<String>> {
        Err(HostError::Browser("no browser in this test".into()).boxed())
    }
    fn now(&self) -> u64 {
        self.now.get()
    }
}
