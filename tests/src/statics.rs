//! Static files under `/demo/` (for the web demo).

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::server::{method_not_allowed, not_found};
use crate::state::Shared;

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// Serve `path` (which starts with `/demo`) from the static directory.
pub(crate) fn serve(ctx: &Shared, method: &Method, path: &str) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed("GET, HEAD, OPTIONS");
    }
    let Some(dir) = &ctx.static_dir else {
        return not_found();
    };
    if path == "/demo" {
        let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
        resp.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/demo/"));
        return resp;
    }
    let rel = path.trim_start_matches("/demo/");
    let rel = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_string()
    };
    // No percent-escapes, no parent or hidden segments: nothing outside the folder.
    if rel.contains('%')
        || rel.contains('\\')
        || rel
            .split('/')
            .any(|seg| seg.is_empty() || seg.starts_with('.'))
    {
        return not_found();
    }
    let file = dir.join(&rel);
    let file = if file.is_dir() {
        file.join("index.html")
    } else {
        file
    };
    match std::fs::read(&file) {
        Ok(bytes) => {
            let mut resp = (StatusCode::OK, bytes).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&file.to_string_lossy())),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(_) => not_found(),
    }
}
