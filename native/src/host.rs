//! The native host: reqwest for HTTP, the chosen store, file locks in the state directory
//! (Redis locks with the Redis store),
//! the loopback callback server (or a pasted redirect URL) for the browser step, the clock.

use crate::browser;
use crate::callback::CallbackServer;
use crate::cli::out::errln;
use crate::http::HttpClient;
use crate::lock;
use crate::store::Store;
use mcp_auth_core::{Host, HostError, HostLock, HostResult, HttpRequest, HttpResponse};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// How long the login waits for the browser.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// How the browser step behaves.
#[derive(Clone, Debug)]
pub struct LoginUi {
    /// Whether a login may be started at all (false for `token`, `status`).
    pub allowed: bool,
    /// Print the URL without opening a browser.
    pub no_browser: bool,
    pub timeout: Duration,
}

impl Default for LoginUi {
    fn default() -> Self {
        LoginUi {
            allowed: true,
            no_browser: false,
            timeout: LOGIN_TIMEOUT,
        }
    }
}

pub struct NativeHost {
    http: HttpClient,
    store: Store,
    lock_dir: PathBuf,
    ui: LoginUi,
}

impl NativeHost {
    pub fn new(store: Store, lock_dir: PathBuf, ui: LoginUi) -> Result<Self, HostError> {
        Ok(NativeHost {
            http: HttpClient::new()?,
            store,
            lock_dir,
            ui,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }
}

/// Reads one line from standard input on its own thread (so a pending read never holds up
/// the process); `None` at end of input.
fn read_line_async() -> tokio::sync::oneshot::Receiver<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let got = match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().to_string()),
        };
        let _ = tx.send(got);
    });
    rx
}

fn spinner(message: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(message.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    Some(pb)
}

impl NativeHost {
    fn open_browser(&self, url: &str) {
        if self.ui.no_browser {
            return;
        }
        if let Err(e) = browser::open(url) {
            errln!("Could not open a browser ({e}); open the URL above yourself.");
        }
    }

    async fn paste(&self, port: u16, why: &str) -> Result<Option<String>, HostError> {
        errln!("Callback server unavailable ({why}). Please paste the full redirect URL:");
        let line = tokio::time::timeout(self.ui.timeout, read_line_async())
            .await
            .map_err(|_| {
                HostError::Browser(format!(
                    "no redirect URL was pasted within {} s; run the login again",
                    self.ui.timeout.as_secs()
                ))
            })?
            .ok()
            .flatten();
        match line {
            Some(l) if !l.is_empty() => Ok(Some(l)),
            _ => Err(HostError::Browser(format!(
                "no redirect URL on standard input, and no callback server on port {port}; \
                 free the port (or set auth.redirect_port), or run the login in a terminal and paste the URL"
            ))),
        }
    }
}

impl Host for NativeHost {
    async fn send(&self, request: HttpRequest) -> HostResult<HttpResponse> {
        Ok(self.http.send(request).await?)
    }

    async fn assertion(
        &self,
        source: &mcp_auth_core::AssertionSource,
    ) -> Result<mcp_auth_core::Assertion, String> {
        crate::assertion::read(source).await
    }

    async fn open_stream(
        &self,
        request: HttpRequest,
    ) -> HostResult<mcp_auth_core::host::StreamResponse> {
        Ok(self.http.open_stream(request).await?)
    }

    async fn load(&self, key: &str) -> HostResult<Option<String>> {
        Ok(self.store.load(key).await?)
    }

    async fn save(&self, key: &str, value: &str) -> HostResult<()> {
        Ok(self.store.save(key, value).await?)
    }

    async fn remove(&self, key: &str) -> HostResult<()> {
        Ok(self.store.remove(key).await?)
    }

    async fn lock(&self, name: &str) -> HostResult<HostLock> {
        // a shared store needs a lock every host sees; a file lock holds on one machine only
        if let Store::Redis(redis) = &self.store {
            return Ok(HostLock::new(redis.lock(name).await?));
        }
        let guard = lock::acquire_named(self.lock_dir.clone(), name).await?;
        Ok(HostLock::new(guard))
    }

    async fn authorize(
        &self,
        authorization_url: &str,
        redirect_uri: &str,
    ) -> HostResult<Option<String>> {
        Ok(self.browser_login(authorization_url, redirect_uri).await?)
    }

    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

impl NativeHost {
    /// [`Host::authorize`]: the browser (or a pasted URL) and the callback server.
    async fn browser_login(
        &self,
        authorization_url: &str,
        redirect_uri: &str,
    ) -> Result<Option<String>, HostError> {
        if !self.ui.allowed {
            return Err(HostError::Browser(
                "a browser login is needed; run `mcp-auth login <server>` first".into(),
            ));
        }
        let port = url::Url::parse(redirect_uri)
            .ok()
            .and_then(|u| u.port_or_known_default())
            .unwrap_or(80);
        errln!("Open this URL in your browser to authorize:\n\n  {authorization_url}\n");
        let mut server = match CallbackServer::start(redirect_uri, authorization_url).await {
            Ok(s) => s,
            Err(e) => {
                self.open_browser(authorization_url);
                return self
                    .paste(port, &format!("cannot listen for the callback: {e}"))
                    .await;
            }
        };
        self.open_browser(authorization_url);
        let tty = std::io::stdin().is_terminal();
        if tty {
            errln!(
                "Waiting for the browser on {redirect_uri} (or paste the full redirect URL here)..."
            );
        } else {
            errln!("Waiting for the browser on {redirect_uri}...");
        }
        let pb = spinner("Waiting for authorization...");
        let pasted = async {
            if tty {
                read_line_async().await.ok().flatten()
            } else {
                std::future::pending::<Option<String>>().await
            }
        };
        let result = tokio::select! {
            got = server.wait() => got.ok_or_else(|| HostError::Browser("the callback server stopped".into())),
            Some(line) = pasted => Ok(line),
            _ = tokio::time::sleep(self.ui.timeout) => Err(HostError::Browser(format!(
                "no callback arrived within {} s; run the login again (with --no-browser you can paste the redirect URL)",
                self.ui.timeout.as_secs()
            ))),
        };
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        server.close().await;
        result.map(Some)
    }
}
