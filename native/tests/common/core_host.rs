//! The host the core-level end-to-end tests use: the native HTTP capability (real requests
//! to the testkit on 127.0.0.1), an in-memory store, the testkit's scripted browser and a
//! clock that tests can move forward.
#![allow(dead_code)] // each test file uses a different part

use mcp_auth::http::HttpClient;
use mcp_auth::store::MemoryStore;
use mcp_auth_core::host::StreamResponse;
use mcp_auth_core::{Host, HostError, HostResult, HttpRequest, HttpResponse, McpAuth};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, PartialEq)]
pub enum Browser {
    /// Follows the authorization URL like a user who approves.
    Approve,
    /// Never returns a callback (the test expects no authorization at all).
    Refuse,
}

pub struct TestHost {
    pub http: HttpClient,
    pub store: Arc<MemoryStore>,
    clock_offset: AtomicU64,
    browser: Browser,
    authorization_urls: Mutex<Vec<String>>,
}

impl TestHost {
    pub fn new(browser: Browser) -> Self {
        Self::sharing(Arc::new(MemoryStore::default()), browser)
    }
    pub fn sharing(store: Arc<MemoryStore>, browser: Browser) -> Self {
        TestHost {
            http: HttpClient::new().expect("http client"),
            store,
            clock_offset: AtomicU64::new(0),
            browser,
            authorization_urls: Mutex::new(Vec::new()),
        }
    }
    pub fn advance(&self, secs: u64) {
        self.clock_offset.fetch_add(secs, Ordering::SeqCst);
    }
    pub fn authorization_urls(&self) -> Vec<String> {
        self.authorization_urls.lock().unwrap().clone()
    }
    pub fn last_authorization_url(&self) -> String {
        self.authorization_urls
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("an authorization URL")
    }
}

impl Host for TestHost {
    async fn send(&self, request: HttpRequest) -> HostResult<HttpResponse> {
        Ok(self.http.send(request).await?)
    }
    async fn load(&self, key: &str) -> HostResult<Option<String>> {
        Ok(self.store.load(key)?)
    }
    async fn save(&self, key: &str, value: &str) -> HostResult<()> {
        Ok(self.store.save(key, value)?)
    }
    async fn remove(&self, key: &str) -> HostResult<()> {
        Ok(self.store.remove(key)?)
    }
    async fn authorize(&self, url: &str, _redirect_uri: &str) -> HostResult<Option<String>> {
        self.authorization_urls
            .lock()
            .unwrap()
            .push(url.to_string());
        match self.browser {
            Browser::Approve => mcp_auth_testkit::browse(url)
                .await
                .map(Some)
                .map_err(|e| HostError::Browser(e).boxed()),
            Browser::Refuse => {
                Err(HostError::Browser("this test must not reach the browser".into()).boxed())
            }
        }
    }
    async fn open_stream(&self, request: HttpRequest) -> HostResult<StreamResponse> {
        Ok(self.http.open_stream(request).await?)
    }
    fn now(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        now + self.clock_offset.load(Ordering::SeqCst)
    }
}

pub fn client(browser: Browser) -> McpAuth<TestHost> {
    McpAuth::new(TestHost::new(browser))
}
