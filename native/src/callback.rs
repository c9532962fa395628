//! The loopback callback server: listens on 127.0.0.1 (and on [::1] when it can, since
//! browsers may resolve `localhost` to either) and nowhere else, hands back exactly one request
//! that core recognises as the callback for this authorization request, answers every other
//! request with an error page (escaping whatever it echoes) and keeps waiting, and shuts down
//! when dropped.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Html;
use mcp_auth_core::oauth::{is_callback_for, query_param};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

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

impl CallbackServer {
    /// Binds `127.0.0.1:<port of redirect_uri>` and starts serving.
    pub async fn start(redirect_uri: &str, authorization_url: &str) -> std::io::Result<Self> {
        let parsed = url::Url::parse(redirect_uri).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad redirect URI {redirect_uri}: {e}"),
            )
        })?;
        let port = parsed.port_or_known_default().unwrap_or(80);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            redirect_uri: parsed,
            authorization_url: authorization_url.to_string(),
            deliver: Mutex::new(Some(tx)),
        });
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let mut listeners = vec![listener];
        // the same port on the IPv6 loopback, if it is free and IPv6 is there
        if let Ok(v6) = tokio::net::TcpListener::bind((Ipv6Addr::LOCALHOST, port)).await {
            listeners.push(v6);
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let tasks = listeners
            .into_iter()
            .map(|l| {
                let app = app.clone();
                let mut stop = stop_rx.clone();
                tokio::spawn(async move {
                    let _ = axum::serve(l, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop.wait_for(|v| *v).await;
                        })
                        .await;
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

async fn handle(State(shared): State<Arc<Shared>>, uri: Uri) -> (StatusCode, Html<String>) {
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
