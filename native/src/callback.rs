//! The loopback callback server: listens on the loopback addresses the redirect host resolves
//! to (127.0.0.1, and `[::1]` for `localhost` where there is an IPv6 stack) and nowhere else,
//! hands back exactly one request that core recognises as the callback for this authorization
//! request, answers every other request with an error page (escaping whatever it echoes) and
//! keeps waiting, and shuts down when dropped.
//!
//! Hardened against other local processes: one request per connection, the request head must
//! arrive within [`HEADER_TIMEOUT`] and be at most [`MAX_HEAD`] bytes, a connection lives at
//! most [`CONNECTION_LIFETIME`], at most [`MAX_CONNECTIONS`] are served at once (more are
//! closed at once), only GET is answered (405 otherwise), a request whose `Host` is not the
//! redirect URI's host (or a loopback address) at its port is refused (421: a web page whose
//! name was rebound to 127.0.0.1 cannot talk to the listener), and a loopback address whose port
//! another process holds is an error rather than quietly skipped (that process would get the
//! code).

use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use mcp_auth_core::oauth::{is_callback_for, query_param};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The time a client has to send the request line and headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a connection is kept, whatever it does.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(15);
/// Connections served at once; further ones are closed on accept.
pub const MAX_CONNECTIONS: usize = 64;
/// The largest request head (request line and headers) read.
pub const MAX_HEAD: usize = 16 * 1024;

struct Shared {
    redirect_uri: url::Url,
    authorization_url: String,
    deliver: Mutex<Option<oneshot::Sender<String>>>,
}

/// A running callback server.
pub struct CallbackServer {
    addr: SocketAddr,
    received: oneshot::Receiver<String>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn taken(addr: SocketAddr) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        format!(
            "port {} on {} is held by another process, which would receive the login's code; stop it or choose another --redirect-port",
            addr.port(),
            addr.ip()
        ),
    )
}

/// The loopback addresses to listen on: those the redirect host resolves to (127.0.0.1
/// first, always).
async fn loopback_addrs(host: &str, port: u16) -> Vec<SocketAddr> {
    let mut addrs = vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))];
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(found) = tokio::net::lookup_host((host, port)).await {
        for a in found {
            if a.ip().is_loopback() && !addrs.contains(&a) {
                addrs.push(a);
            }
        }
    }
    addrs
}

impl CallbackServer {
    /// Listens on the loopback addresses of the redirect URI's host, at its port, and starts
    /// serving. Fails when any of them is held by another process.
    pub async fn start(redirect_uri: &str, authorization_url: &str) -> std::io::Result<Self> {
        let parsed = url::Url::parse(redirect_uri).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad redirect URI {redirect_uri}: {e}"),
            )
        })?;
        let port = parsed.port_or_known_default().unwrap_or(80);
        let host = parsed.host_str().unwrap_or("localhost").to_string();
        let mut listeners = Vec::new();
        for addr in loopback_addrs(&host, port).await {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => listeners.push(l),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(taken(addr)),
                // the IPv4 loopback must work; an absent IPv6 stack is not an error
                Err(e) if addr.is_ipv4() => return Err(e),
                Err(_) => {}
            }
        }
        let addr = listeners
            .first()
            .ok_or_else(|| std::io::Error::other("no loopback address to listen on"))?
            .local_addr()?;
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            redirect_uri: parsed,
            authorization_url: authorization_url.to_string(),
            deliver: Mutex::new(Some(tx)),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let tasks = listeners
            .into_iter()
            .map(|l| {
                let app = app.clone();
                let slots = slots.clone();
                let mut stop = stop_rx.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        () = serve(l, app, slots) => {}
                        _ = stop.wait_for(|v| *v) => {}
                    }
                })
            })
            .collect();
        Ok(CallbackServer {
            addr,
            received: rx,
            shutdown: stop_tx,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the one valid callback and returns its full URL.
    pub async fn wait(&mut self) -> Option<String> {
        (&mut self.received).await.ok()
    }
}

impl CallbackServer {
    /// Stops serving and waits (briefly) until the port is released.
    pub async fn close(mut self) {
        let _ = self.shutdown.send(true);
        for task in &mut self.tasks {
            let finished =
                tokio::time::timeout(std::time::Duration::from_secs(1), &mut *task).await;
            if finished.is_err() {
                task.abort();
                let _ = (&mut *task).await;
            }
        }
        self.tasks.clear();
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Accepts connections until the task is dropped; each is served under the limits above.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    slots: Arc<tokio::sync::Semaphore>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // out of descriptors and the like: let some connections finish, then go on
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        connections.spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .max_buf_size(MAX_HEAD);
            let conn = http.serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
            drop(slot);
        });
    }
}

fn esc(s: &str) -> String {
    html_escape::encode_safe(s).into_owned()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family: sans-serif; max-width: 40em; margin: 4em auto\">\
         <h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    ))
}

/// Whether `Host` names this listener: the redirect URI's host or a loopback literal
/// (`localhost`, `127.0.0.1`, `[::1]`), at the redirect URI's port. Any other name reached
/// 127.0.0.1 through a DNS answer someone else controls (DNS rebinding).
fn host_allowed(redirect_uri: &url::Url, host_header: Option<&str>) -> bool {
    let Some(value) = host_header else {
        return false;
    };
    // parse the header as the authority of a URL (no hand-made host:port splitting)
    let Ok(seen) = url::Url::parse(&format!("http://{value}/")) else {
        return false;
    };
    if seen.username() != ""
        || seen.password().is_some()
        || seen.path() != "/"
        || seen.query().is_some()
        || seen.fragment().is_some()
    {
        return false;
    }
    let port = redirect_uri.port_or_known_default();
    if seen.port_or_known_default() != port {
        return false;
    }
    let Some(name) = seen.host_str() else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    redirect_uri
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(&name))
        || matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: header::HeaderMap,
    uri: Uri,
) -> Response {
    if method != Method::GET {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET")],
            page(
                "Method not allowed",
                "<p>The mcp-auth login callback only answers GET.</p>",
            ),
        )
            .into_response();
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !host_allowed(&shared.redirect_uri, host) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            page(
                "Wrong host",
                "<p>The mcp-auth login callback answers only requests addressed to its own \
                 loopback address; this one named another host, so it was ignored.</p>",
            ),
        )
            .into_response();
    }
    answer(&shared, &uri).into_response()
}

fn answer(shared: &Shared, uri: &Uri) -> (StatusCode, Html<String>) {
    if uri.path() != shared.redirect_uri.path() {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                &format!(
                    "<p>This is the mcp-auth login callback; <code>{}</code> is not part of it.</p>",
                    esc(uri.path())
                ),
            ),
        );
    }
    let mut full = shared.redirect_uri.clone();
    full.set_query(uri.query());
    let full = full.to_string();
    if !is_callback_for(&full, &shared.authorization_url) {
        let detail = query_param(&full, "error")
            .map(|e| format!("<p>It carried the error <code>{}</code>.</p>", esc(&e)))
            .unwrap_or_default();
        return (
            StatusCode::BAD_REQUEST,
            page(
                "Not the login in progress",
                &format!(
                    "<p>This request does not belong to the login mcp-auth is waiting for \
                     (its <code>state</code> is wrong or missing), so it was ignored.</p>{detail}\
                     <p>The login is still waiting; finish it in the browser tab it opened.</p>"
                ),
            ),
        );
    }
    let sender = shared
        .deliver
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let Some(sender) = sender else {
        return (
            StatusCode::CONFLICT,
            page(
                "Already received",
                "<p>mcp-auth already received this login's callback. You can close this tab.</p>",
            ),
        );
    };
    let error = query_param(&full, "error");
    let description = query_param(&full, "error_description");
    let _ = sender.send(full);
    match error {
        Some(e) => (
            StatusCode::OK,
            page(
                "Authorization failed",
                &format!(
                    "<p>The authorization server answered <code>{}</code>{}.</p>\
                     <p>See the terminal for what to do next. You can close this tab.</p>",
                    esc(&e),
                    description
                        .map(|d| format!(": {}", esc(&d)))
                        .unwrap_or_default()
                ),
            ),
        ),
        None => (
            StatusCode::OK,
            page(
                "Authorization received",
                "<p>mcp-auth received the authorization. You can close this tab and return to the terminal.</p>",
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn only_the_redirect_host_or_a_loopback_literal_at_its_port_is_allowed() {
        let r = url::Url::parse("http://localhost:3030/callback").unwrap();
        for ok in [
            "localhost:3030",
            "LOCALHOST:3030",
            "127.0.0.1:3030",
            "[::1]:3030",
        ] {
            assert!(host_allowed(&r, Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example:3030",
            "localhost.evil.example:3030",
            "localhost:3031",
            "localhost",
            "127.0.0.2:3030",
            "user@localhost:3030",
            "localhost:3030/x",
            "",
        ] {
            assert!(!host_allowed(&r, Some(bad)), "{bad}");
        }
        assert!(!host_allowed(&r, None), "no Host at all");
        let v4 = url::Url::parse("http://127.0.0.1:4000/cb").unwrap();
        assert!(host_allowed(&v4, Some("127.0.0.1:4000")));
        assert!(!host_allowed(&v4, Some("attacker.example:4000")));
    }
}
