//! Network faults from each party the CLI talks to — the protected resource metadata, the
//! authorization server metadata, registration, the token endpoint, revocation and the MCP
//! server — each refused, reset, too slow (past `MCP_AUTH_HTTP_TIMEOUT`), answering 503 with
//! an HTML page, or cutting the body short. For every one: the command fails (or, for `clear`,
//! removes the local tokens and says the revocation failed) with a message that names the
//! failing URL, no record that was stored before is changed or lost, nothing panics, and POSTs
//! (registration, token) are sent exactly once: no retry where a retry is not safe.
//!
//! Faults come from a small raw TCP server per kind (the test's own, not the product's HTTP);
//! the documents that lead to them come from a front server (axum) or from a stored record
//! that names the endpoint, so each fault hits exactly one party.

mod common;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::CliEnv;
use mcp_auth_testkit::{Scenario, TestServer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Refused,
    Reset,
    Slow,
    ServerError,
    Truncated,
}

const FAULTS: [Fault; 5] = [
    Fault::Refused,
    Fault::Reset,
    Fault::Slow,
    Fault::ServerError,
    Fault::Truncated,
];

/// One fault server: its origin and how many requests reached it.
struct FaultServer {
    origin: String,
    hits: Arc<AtomicUsize>,
}

async fn read_head(sock: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn fault_server(fault: Fault) -> FaultServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    if fault == Fault::Refused {
        drop(listener); // nothing listens there any more
        return FaultServer { origin, hits };
    }
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                read_head(&mut sock).await;
                counter.fetch_add(1, Ordering::SeqCst);
                match fault {
                    Fault::Refused => {}
                    Fault::Reset => {
                        // RST instead of a FIN: close with a zero linger
                        let std = sock.into_std().unwrap();
                        let _ = socket_linger_zero(&std);
                        drop(std);
                    }
                    Fault::Slow => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        drop(sock);
                    }
                    Fault::ServerError => {
                        let page = "<html><head><title>503</title></head><body><h1>Service \
                                    Unavailable</h1>\u{1b}]52;c;Zm9v\u{7}</body></html>";
                        let head = format!(
                            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            page.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(page.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                    Fault::Truncated => {
                        let _ = sock
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\nconnection: close\r\n\r\n{\"issuer\":\"http",
                            )
                            .await;
                        let _ = sock.shutdown().await;
                    }
                }
            });
        }
    });
    FaultServer { origin, hits }
}

#[cfg(unix)]
fn socket_linger_zero(s: &std::net::TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized linger struct.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Where the front server's documents point.
#[derive(Clone, Default)]
struct Targets {
    /// `resource_metadata` in the 401 challenge.
    prm: String,
    /// `authorization_servers[0]` of the PRM (an issuer: its metadata is at the well-known URL).
    issuer: String,
    /// `registration_endpoint` of the AS metadata.
    registration: String,
}

/// The front: an MCP server (401 + challenge), its PRM and its own AS metadata, pointing
/// wherever `Targets` says.
async fn front() -> (String, Arc<Mutex<Targets>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let targets = Arc::new(Mutex::new(Targets::default()));
    let (t1, t2, t3) = (targets.clone(), targets.clone(), targets.clone());
    let o2 = origin.clone();
    let o3 = origin.clone();
    let app = Router::new()
        .route(
            "/mcp",
            post(move || async move {
                let prm = t1.lock().unwrap().prm.clone();
                (
                    StatusCode::UNAUTHORIZED,
                    [(
                        header::WWW_AUTHENTICATE,
                        format!("Bearer resource_metadata=\"{prm}\", scope=\"mcp:read\""),
                    )],
                )
                    .into_response()
            }),
        )
        .route(
            "/prm",
            get(move || async move {
                let issuer = t2.lock().unwrap().issuer.clone();
                Json(serde_json::json!({
                    "resource": format!("{o2}/mcp"),
                    "authorization_servers": [issuer],
                }))
            }),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move {
                let reg = t3.lock().unwrap().registration.clone();
                Json(serde_json::json!({
                    "issuer": o3,
                    "authorization_endpoint": format!("{o3}/authorize"),
                    "token_endpoint": format!("{o3}/token"),
                    "registration_endpoint": reg,
                    "response_types_supported": ["code"],
                    "grant_types_supported": ["authorization_code", "refresh_token"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["none"],
                }))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (origin, targets)
}

fn store_map(env: &CliEnv) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(env.store_file()).expect("store")).expect("json")
}

fn write_store(env: &CliEnv, map: &serde_json::Map<String, serde_json::Value>) {
    std::fs::write(
        env.store_file(),
        serde_json::to_string(map).expect("encode"),
    )
    .expect("write");
}

/// Every record stored before is still there, unchanged; returns the keys added.
fn assert_kept(
    case: &str,
    before: &serde_json::Map<String, serde_json::Value>,
    env: &CliEnv,
) -> Vec<String> {
    let after = store_map(env);
    for (k, v) in before {
        assert_eq!(
            after.get(k),
            Some(v),
            "{case}: the record {k} changed or went"
        );
    }
    let added: Vec<String> = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .cloned()
        .collect();
    assert!(
        !added.iter().any(|k| k.starts_with("tokens:")),
        "{case}: a token record appeared: {added:?}"
    );
    added
}

/// The run failed cleanly with a message that names the failing party (any of `names`: its
/// URL, or the role it plays).
fn assert_clear_failure(case: &str, run: common::Run, names: &[&str]) -> String {
    let run = run.failed();
    let text = run.stderr.trim().to_string();
    assert!(!text.is_empty(), "{case}: no message");
    assert!(
        names.iter().any(|n| text.contains(n)),
        "{case}: the message names none of {names:?}: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "{case}: an escape sequence from the server reached the terminal: {text:?}"
    );
    text
}

fn record_of(map: &serde_json::Map<String, serde_json::Value>, key: &str) -> serde_json::Value {
    serde_json::from_str(map[key].as_str().expect("record")).expect("record json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_fault_keeps_the_tokens_and_says_which_party_failed() {
    let server = TestServer::start(Scenario::Default);
    let mut env = CliEnv::new();
    env.extra_env
        .push(("MCP_AUTH_HTTP_TIMEOUT".into(), "2".into()));
    let mcp = server.mcp_url();
    let identity = server.base_url();
    env.run_with_browser(&["login", &mcp]).await.0.ok();
    let original = store_map(&env);
    let token_key = common::token_key_in(&original, &identity);
    let (front_origin, targets) = front().await;
    let mut report = Vec::new();

    for fault in FAULTS {
        let fs = fault_server(fault).await;
        let f = &fs.origin;

        // --- the protected resource metadata, the AS metadata, registration: `login`
        let cases = [
            (
                "PRM",
                Targets {
                    prm: format!("{f}/prm"),
                    ..Targets::default()
                },
                vec![format!("{f}/prm")],
            ),
            (
                "AS metadata",
                Targets {
                    prm: format!("{front_origin}/prm"),
                    issuer: f.clone(),
                    ..Targets::default()
                },
                vec![f.clone()],
            ),
            (
                "registration",
                Targets {
                    prm: format!("{front_origin}/prm"),
                    issuer: front_origin.clone(),
                    registration: format!("{f}/register"),
                },
                vec![format!("{f}/register"), "registration".to_string()],
            ),
        ];
        for (party, t, named) in cases {
            let case = format!("{party} {fault:?}");
            *targets.lock().unwrap() = t;
            write_store(&env, &original);
            let hits = fs.hits.load(Ordering::SeqCst);
            let run = {
                let env = &env;
                let url = format!("{front_origin}/mcp");
                tokio::task::block_in_place(|| env.run(&["login", &url, "--no-browser"]))
            };
            let named: Vec<&str> = named.iter().map(String::as_str).collect();
            let msg = assert_clear_failure(&case, run, &named);
            assert_kept(&case, &original, &env);
            let sent = fs.hits.load(Ordering::SeqCst) - hits;
            if party == "registration" && fault != Fault::Refused {
                assert_eq!(sent, 1, "{case}: a registration POST is never retried");
            }
            assert!(sent <= 3, "{case}: {sent} requests: retries are bounded");
            report.push(format!("{case}: {sent} request(s): {msg}"));
        }

        // --- the token endpoint: a refresh (`token`) against a record that names it
        let case = format!("token {fault:?}");
        let mut map = original.clone();
        let mut rec = record_of(&map, &token_key);
        rec["token_endpoint"] = serde_json::json!(format!("{f}/token"));
        rec["expires_at"] = serde_json::json!(1);
        map.insert(
            token_key.clone(),
            serde_json::Value::String(rec.to_string()),
        );
        write_store(&env, &map);
        let hits = fs.hits.load(Ordering::SeqCst);
        let run = tokio::task::block_in_place(|| env.run(&["token", &mcp]));
        let msg = assert_clear_failure(&case, run, &[&format!("{f}/token"), "token endpoint"]);
        assert_kept(&case, &map, &env);
        let sent = fs.hits.load(Ordering::SeqCst) - hits;
        if fault != Fault::Refused {
            assert_eq!(sent, 1, "{case}: a token POST is never retried");
        }
        report.push(format!("{case}: {sent} request(s): {msg}"));

        // --- the MCP server: `probe` with a stored token for the fault server's origin
        let case = format!("MCP {fault:?}");
        let mut map = original.clone();
        let mut rec = record_of(&map, &token_key);
        rec["identity"] = serde_json::json!(f);
        rec["resource"] = serde_json::json!(format!("{f}/mcp"));
        let key = format!("tokens:{f}|{f}/mcp");
        map.insert(key, serde_json::Value::String(rec.to_string()));
        write_store(&env, &map);
        let hits = fs.hits.load(Ordering::SeqCst);
        let url = format!("{f}/mcp");
        let run = tokio::task::block_in_place(|| env.run(&["probe", &url]));
        let msg = assert_clear_failure(&case, run, &[&url]);
        assert_kept(&case, &map, &env);
        let sent = fs.hits.load(Ordering::SeqCst) - hits;
        assert!(sent <= 3, "{case}: {sent} requests: retries are bounded");
        report.push(format!("{case}: {sent} request(s): {msg}"));

        // --- revocation: `clear` removes the local tokens and says the revocation failed
        let case = format!("revocation {fault:?}");
        let mut map = original.clone();
        let mut rec = record_of(&map, &token_key);
        rec["revocation_endpoint"] = serde_json::json!(format!("{f}/revoke"));
        map.insert(
            token_key.clone(),
            serde_json::Value::String(rec.to_string()),
        );
        write_store(&env, &map);
        let run =
            tokio::task::block_in_place(|| env.run(&["clear", "--identity", &identity, "--yes"]));
        assert!(
            !run.stderr.contains("panicked"),
            "{case}: a panic: {}",
            run.stderr
        );
        let out = format!("{}{}", run.stdout, run.stderr);
        assert!(
            out.contains(&format!("{f}/revoke")),
            "{case}: the failed revocation is reported, naming the endpoint: {out}"
        );
        assert!(
            !store_map(&env).contains_key(&token_key),
            "{case}: `clear` still removes the local tokens"
        );
        report.push(format!(
            "{case}: exit {}: {}",
            run.code,
            out.trim().replace('\n', " | ")
        ));
    }
    write_store(&env, &original);
    println!("faults_network: {} cases", report.len());
    for line in &report {
        println!("  {line}");
    }
    assert_eq!(report.len(), 6 * FAULTS.len());
    // after every fault, the original login still works
    env.run(&["token", &mcp]).ok();
}
