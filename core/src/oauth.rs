//! The OAuth messages themselves: the authorization URL, the callback check, token,
//! registration and revocation requests, and reading their responses. Pure functions.

use crate::error::{Error, Result};
use crate::host::{HttpRequest, HttpResponse};
use crate::json::{Json, Object};
use crate::metadata::{same_issuer, AuthServerMetadata};
use crate::platform_url;
use crate::records::{ClientAuthMethod, ClientRecord, ClientSource, TokenRecord};
use crate::secret::{AccessToken, AuthorizationCode, ClientSecret, PkceCodeVerifier, RefreshToken};
use crate::text::printable;

const FORM: &str = "application/x-www-form-urlencoded";

/// Everything the authorization URL carries.
pub struct AuthorizationParams<'a> {
    pub authorization_endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub code_challenge: &'a str,
    pub resource: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub extra: &'a [(String, String)],
}

/// The authorization request URL (OAuth 2.1 §4.1.1, PKCE S256, RFC 8707 `resource`).
pub fn authorization_url(p: &AuthorizationParams<'_>) -> Result<String> {
    let mut url = platform_url::parse(p.authorization_endpoint)
        .map_err(|e| Error::invalid_url(p.authorization_endpoint, e))?;
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", p.client_id),
        ("redirect_uri", p.redirect_uri),
        ("state", p.state),
        ("code_challenge", p.code_challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(r) = p.resource {
        pairs.push(("resource", r));
    }
    if let Some(s) = p.scope {
        pairs.push(("scope", s));
    }
    for (k, v) in p.extra {
        pairs.push((k.as_str(), v.as_str()));
    }
    platform_url::append_query_pairs(&mut url, &pairs);
    Ok(url.into())
}

/// The value of a query parameter in a URL (first occurrence).
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = platform_url::parse(url).ok()?;
    for (k, v) in platform_url::query_pairs(&parsed) {
        if k == name {
            return Some(v);
        }
    }
    None
}

/// Whether a request that reached the redirect URI is the callback for this authorization
/// request (its `state` matches). Hosts use it to ignore stray requests.
pub fn is_callback_for(callback_url: &str, authorization_url: &str) -> bool {
    match (
        query_param(callback_url, "state"),
        query_param(authorization_url, "state"),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Validates the redirect back from the authorization server and returns the code.
/// The order matters: `state` first, then `iss` (RFC 9207), and only then is an `error`
/// from the callback believed; on a state or issuer mismatch its text is not shown.
pub fn validate_callback(
    callback_url: &str,
    expected_state: &str,
    issuer: &str,
    iss_required: bool,
) -> Result<AuthorizationCode> {
    let url = platform_url::parse(callback_url.trim_ascii())
        .map_err(|e| Error::invalid_url(callback_url, e))?;
    let mut state = None;
    let mut iss = None;
    let mut code = None;
    let mut error = None;
    let mut description = None;
    for (k, v) in platform_url::query_pairs(&url) {
        let slot = match k.as_str() {
            "state" => &mut state,
            "iss" => &mut iss,
            "code" => &mut code,
            "error" => &mut error,
            "error_description" => &mut description,
            _ => continue,
        };
        if slot.is_some() {
            // a repeated parameter is a malformed response (RFC 6749 §3.1)
            return Err(
                Error::Invalid(format!("the callback repeats the `{k}` parameter")).boxed(),
            );
        }
        *slot = Some(v);
    }
    if state.as_deref() != Some(expected_state) {
        return Err(Error::StateMismatch.boxed());
    }
    match iss {
        Some(i) if !same_issuer(&i, issuer) => {
            // the received value is not shown: it comes from whoever forged the redirect
            return Err(Error::IssuerParameter(format!("does not match `{issuer}`")).boxed());
        }
        None if iss_required => {
            return Err(Error::IssuerParameter(
                "is missing although the authorization server promises to send it".into(),
            )
            .boxed());
        }
        _ => {}
    }
    if let Some(error) = error {
        // whoever sent the redirect wrote these: no control characters reach any host
        return Err(Error::AuthorizationDenied {
            error: printable(&error, 100),
            description: description.map(|d| printable(&d, 300)),
        }
        .boxed());
    }
    match code {
        Some(c) if !c.is_empty() => Ok(AuthorizationCode::new(c)),
        _ => Err(Error::MissingCode.boxed()),
    }
}

/// Picks the token endpoint authentication method for a client with or without a secret.
pub fn choose_auth_method(
    explicit: Option<ClientAuthMethod>,
    has_secret: bool,
    meta: &AuthServerMetadata,
) -> ClientAuthMethod {
    if let Some(m) = explicit {
        return m;
    }
    if !has_secret {
        return ClientAuthMethod::None;
    }
    match &meta.token_endpoint_auth_methods_supported {
        // RFC 8414: absent means client_secret_basic
        None => ClientAuthMethod::ClientSecretBasic,
        Some(list) if list.iter().any(|m| m == "client_secret_basic") => {
            ClientAuthMethod::ClientSecretBasic
        }
        Some(list) if list.iter().any(|m| m == "client_secret_post") => {
            ClientAuthMethod::ClientSecretPost
        }
        Some(_) => ClientAuthMethod::ClientSecretBasic,
    }
}

/// One string form-urlencoded (as a name with an empty value, without the `=`).
fn form_encode(s: &str) -> String {
    let mut pair = platform_url::form_serialize(&[(s, "")]);
    pair.pop();
    pair
}

/// A form POST to a token or revocation endpoint, authenticated as the client.
pub fn client_form_request(
    endpoint: &str,
    client: &ClientRecord,
    params: &[(&str, &str)],
) -> HttpRequest {
    let mut body = params.to_vec();
    let secret = client
        .client_secret
        .as_ref()
        .map(ClientSecret::secret)
        .unwrap_or("");
    let mut basic = None;
    match client.auth_method {
        // a private_key_jwt client's assertion is added by the caller that holds the key
        // (grants::client_auth_params); without one it is identified like a public client
        ClientAuthMethod::None | ClientAuthMethod::PrivateKeyJwt => {
            body.push(("client_id", &client.client_id));
        }
        ClientAuthMethod::ClientSecretPost => {
            body.push(("client_id", &client.client_id));
            body.push(("client_secret", secret));
        }
        ClientAuthMethod::ClientSecretBasic => {
            // RFC 6749 §2.3.1: both parts form-urlencoded before base64
            let pair = format!("{}:{}", form_encode(&client.client_id), form_encode(secret));
            basic = Some(format!("Basic {}", crate::b64::standard(pair)));
        }
    }
    let body = platform_url::form_serialize(&body);
    let mut req =
        HttpRequest::post(endpoint, FORM, body.into_bytes()).header("accept", "application/json");
    if let Some(b) = basic {
        req = req.header("authorization", b);
    }
    req
}

/// The authorization-code token request.
pub fn code_token_request(
    token_endpoint: &str,
    client: &ClientRecord,
    code: &AuthorizationCode,
    redirect_uri: &str,
    verifier: &PkceCodeVerifier,
    resource: Option<&str>,
) -> HttpRequest {
    let mut p = vec![
        ("grant_type", "authorization_code"),
        ("code", code.secret()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.secret()),
    ];
    if let Some(r) = resource {
        p.push(("resource", r));
    }
    client_form_request(token_endpoint, client, &p)
}

/// The refresh request (the `resource` is sent again, RFC 8707 §2.2).
pub fn refresh_token_request(
    token_endpoint: &str,
    client: &ClientRecord,
    refresh: &RefreshToken,
    resource: Option<&str>,
) -> HttpRequest {
    let mut p = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.secret()),
    ];
    if let Some(r) = resource {
        p.push(("resource", r));
    }
    client_form_request(token_endpoint, client, &p)
}

/// RFC 7009 revocation of one token.
pub fn revocation_request(
    endpoint: &str,
    client: &ClientRecord,
    token: &str,
    hint: &str,
) -> HttpRequest {
    client_form_request(
        endpoint,
        client,
        &[("token", token), ("token_type_hint", hint)],
    )
}

struct RawTokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<Json>,
    refresh_token: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
}

crate::json_struct!(RawTokenResponse {
    access_token,
    token_type,
    expires_in,
    refresh_token,
    scope,
    id_token,
});

struct RawError {
    error: Option<String>,
    error_description: Option<String>,
}

crate::json_struct!(RawError {
    error,
    error_description,
});

/// An error response from a token, registration or revocation endpoint.
pub fn endpoint_error(resp: &HttpResponse) -> Error {
    let parsed: Option<RawError> = crate::json::from_slice(&resp.body).ok();
    match parsed.and_then(|e| e.error.map(|err| (err, e.error_description))) {
        // the server's words, without control characters (escape sequences) and bounded
        Some((error, description)) => {
            let mut description = description.map(|d| printable(&d, 300));
            if error == "invalid_dpop_proof" {
                // RFC 9449 §11.1: a proof's `iat` outside the server's window is refused; the
                // server's cure is a nonce (answered by `use_dpop_nonce`, which is retried),
                // the client's is a correct clock
                let hint = CLOCK_HINT;
                description = Some(match description {
                    Some(d) => format!("{d}; {hint}"),
                    None => hint.to_string(),
                });
            }
            Error::TokenEndpoint {
                error: printable(&error, 100),
                description,
                status: resp.status,
            }
        }
        None => Error::TokenEndpoint {
            error: format!("http_{}", resp.status),
            description: Some(format!(
                "the server answered HTTP {} without an OAuth error",
                resp.status
            )),
            status: resp.status,
        },
    }
}

/// Said with a refused DPoP proof: its time comes from this machine's clock.
const CLOCK_HINT: &str = "the proof carries this machine's clock (`iat`): if the system clock \
     is minutes off, the server takes the proof as too old or from the future; correct the clock";

/// What the token endpoint granted, already validated.
pub struct TokenGrant {
    pub access_token: AccessToken,
    pub token_type: String,
    pub refresh_token: Option<RefreshToken>,
    pub expires_at: Option<u64>,
    pub scope: Option<String>,
    pub id_token: Option<AccessToken>,
    /// The thumbprint of the DPoP key whose proof went with the request (see [`Self::bind`]).
    pub dpop_jkt: Option<String>,
}

/// The longest lifetime believed (ten years); anything longer is a broken server.
const MAX_EXPIRES_IN: u64 = crate::records::MAX_LIFETIME_SECS;

/// Reads a token response: 200 JSON, a `Bearer` or `DPoP` `token_type` (any case; a DPoP
/// one must then be [`TokenGrant::bind`]-checked against the proof sent), a sane `expires_in`
/// turned into an absolute time. A missing `scope` means the requested scope was granted.
pub fn parse_token_response(
    resp: &HttpResponse,
    now: u64,
    requested_scope: Option<&str>,
) -> Result<TokenGrant> {
    if !resp.is_success() {
        return Err(endpoint_error(resp).boxed());
    }
    let raw: RawTokenResponse = crate::json::from_slice(&resp.body)
        .map_err(|e| Error::InvalidTokenResponse(format!("not a JSON object ({e})")))?;
    let access_token = raw
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::invalid_token_response("no access_token"))?;
    let token_type = raw
        .token_type
        .ok_or_else(|| Error::invalid_token_response("no token_type"))?;
    let token_type = if token_type.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else if token_type.eq_ignore_ascii_case("dpop") {
        "DPoP"
    } else {
        return Err(Error::InvalidTokenResponse(format!(
            "token_type `{token_type}` is neither Bearer nor DPoP"
        ))
        .boxed());
    };
    let expires_in = match raw.expires_in {
        None | Some(Json::Null) => None,
        Some(n @ Json::Number(_)) => Some(n.as_u64().ok_or_else(|| {
            Error::InvalidTokenResponse(format!(
                "expires_in `{n}` is not a whole number of seconds"
            ))
        })?),
        Some(Json::String(s)) => {
            let digits = s.trim_ascii();
            Some(
                crate::text::decimal(digits.strip_prefix('+').unwrap_or(digits)).ok_or_else(
                    || Error::InvalidTokenResponse(format!("expires_in `{s}` is not a number")),
                )?,
            )
        }
        Some(other) => {
            return Err(Error::InvalidTokenResponse(format!(
                "expires_in `{other}` is not a number"
            ))
            .boxed())
        }
    };
    if expires_in.is_some_and(|e| e > MAX_EXPIRES_IN) {
        return Err(Error::invalid_token_response(
            "expires_in is longer than ten years",
        ));
    }
    Ok(TokenGrant {
        access_token: AccessToken::new(access_token),
        token_type: token_type.into(),
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(RefreshToken::new),
        expires_at: expires_in.map(|e| now.saturating_add(e)),
        scope: raw
            .scope
            .filter(|s| !s.trim_ascii().is_empty())
            .or_else(|| requested_scope.map(str::to_string)),
        id_token: raw.id_token.map(AccessToken::new),
        dpop_jkt: None,
    })
}

/// Where a grant belongs: what a token record is bound to besides the tokens themselves.
pub struct TokenBinding<'a> {
    pub identity: &'a str,
    pub resource: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub token_endpoint: &'a str,
    pub revocation_endpoint: Option<&'a str>,
    pub send_resource: bool,
    pub requested_scope: Option<&'a str>,
}

impl TokenGrant {
    /// Ties the grant to the DPoP key whose proof went with the token request (`None`: no
    /// proof was sent). A `DPoP` token_type without a proof is refused: the client could
    /// never use such a token (RFC 9449 §5).
    pub fn bind(mut self, dpop_jkt: Option<String>) -> Result<Self> {
        if self.token_type == "DPoP" && dpop_jkt.is_none() {
            return Err(Error::invalid_token_response(
                "token_type is DPoP, but the request carried no DPoP proof",
            ));
        }
        self.dpop_jkt = dpop_jkt;
        Ok(self)
    }

    pub fn into_record(
        self,
        b: &TokenBinding<'_>,
        now: u64,
        previous_refresh: Option<RefreshToken>,
    ) -> TokenRecord {
        TokenRecord {
            version: crate::records::RECORD_VERSION,
            identity: b.identity.to_string(),
            resource: b.resource.to_string(),
            issuer: b.issuer.to_string(),
            client_id: b.client_id.to_string(),
            access_token: self.access_token,
            token_type: self.token_type,
            // a server that does not rotate keeps the refresh token valid
            refresh_token: self.refresh_token.or(previous_refresh),
            expires_at: self.expires_at,
            scope: self.scope,
            obtained_at: now,
            id_token: self.id_token,
            token_endpoint: Some(b.token_endpoint.to_string()),
            revocation_endpoint: b.revocation_endpoint.map(str::to_string),
            send_resource: b.send_resource,
            requested_scope: b.requested_scope.map(str::to_string),
            flow: None,
            dpop_jkt: self.dpop_jkt,
        }
    }
}

/// The `application_type` a client registers with (OpenID Connect Registration, MCP SEP-837):
/// `native` for loopback or private-scheme redirect URIs (the CLI, desktop apps), `web` for
/// an https page.
pub fn application_type(redirect_uri: &str) -> &'static str {
    match platform_url::parse(redirect_uri) {
        Ok(u) if u.scheme() == "https" && !crate::urls::is_loopback(&u) => "web",
        _ => "native",
    }
}

/// The dynamic client registration request (RFC 7591) of a native public client.
pub fn registration_request(
    endpoint: &str,
    client_name: &str,
    redirect_uri: &str,
    scope: Option<&str>,
) -> HttpRequest {
    // Members in lexicographic order: the bytes this request has always had on the wire.
    let mut body = Object::new()
        .with("application_type", application_type(redirect_uri))
        .with("client_name", client_name)
        .with("grant_types", &["authorization_code", "refresh_token"][..])
        .with("redirect_uris", vec![redirect_uri.to_string()])
        .with("response_types", &["code"][..]);
    if let Some(s) = scope {
        body.insert("scope", s);
    }
    let text = crate::json::print(&body.with("token_endpoint_auth_method", "none").into());
    HttpRequest::post(endpoint, "application/json", text.into_bytes())
        .header("accept", "application/json")
}

struct RawRegistration {
    client_id: Option<String>,
    client_secret: Option<String>,
    token_endpoint_auth_method: Option<String>,
    redirect_uris: Option<Vec<String>>,
}

crate::json_struct!(RawRegistration {
    client_id,
    client_secret,
    token_endpoint_auth_method,
    redirect_uris,
});

/// Reads a registration response into a client record bound to `issuer`.
pub fn parse_registration_response(
    resp: &HttpResponse,
    issuer: &str,
    redirect_uri: &str,
    now: u64,
) -> Result<ClientRecord> {
    let fail = |detail: String| Error::Registration {
        issuer: issuer.to_string(),
        detail,
    };
    if !resp.is_success() {
        return Err(match endpoint_error(resp) {
            Error::TokenEndpoint {
                error,
                description,
                status,
            } => fail(format!(
                "HTTP {status} `{error}`{}",
                description.map(|d| format!(": {d}")).unwrap_or_default()
            )),
            other => other,
        }
        .boxed());
    }
    let raw: RawRegistration = crate::json::from_slice(&resp.body)
        .map_err(|e| fail(format!("the response is not JSON ({e})")))?;
    let client_id = raw
        .client_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| fail("the response has no client_id".into()))?;
    let secret = raw
        .client_secret
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new);
    let auth_method = match raw.token_endpoint_auth_method.as_deref() {
        Some(m) => ClientAuthMethod::from_name(m)
            .ok_or_else(|| fail(format!("unsupported token_endpoint_auth_method `{m}`")))?,
        // RFC 7591 §2: the default is client_secret_basic, which only makes sense with a secret
        None if secret.is_some() => ClientAuthMethod::ClientSecretBasic,
        None => ClientAuthMethod::None,
    };
    if auth_method != ClientAuthMethod::None && secret.is_none() {
        return Err(fail(format!(
            "the server chose {} but issued no client_secret",
            auth_method.as_str()
        ))
        .boxed());
    }
    Ok(ClientRecord {
        version: crate::records::RECORD_VERSION,
        issuer: issuer.to_string(),
        client_id,
        client_secret: secret,
        auth_method,
        source: ClientSource::Dynamic,
        redirect_uris: raw
            .redirect_uris
            .unwrap_or_else(|| vec![redirect_uri.to_string()]),
        registered_at: Some(now),
    })
}

/// A Client ID Metadata Document URL must be https with a path other than `/`.
pub fn check_client_metadata_url(url: &str) -> Result<()> {
    match platform_url::parse(url) {
        Ok(u)
            if u.scheme() == "https"
                && u.host().is_some()
                && u.path() != "/"
                && !u.path().is_empty()
                && u.fragment().is_none() =>
        {
            Ok(())
        }
        _ => Err(Error::InvalidClientMetadataUrl {
            url: url.to_string(),
        }
        .boxed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_type_follows_the_redirect_uri() {
        for (uri, want) in [
            ("http://localhost:3030/callback", "native"),
            ("http://127.0.0.1:3030/callback", "native"),
            ("http://[::1]:3030/callback", "native"),
            ("https://localhost:8443/cb", "native"),
            ("com.example.app:/callback", "native"),
            ("https://app.example.com/oauth/callback", "web"),
        ] {
            assert_eq!(application_type(uri), want, "{uri}");
            let req = registration_request("https://as.example/register", "c", uri, None);
            let body: serde_json::Value =
                serde_json::from_slice(req.body.as_deref().unwrap_or_default()).expect("json");
            assert_eq!(body["application_type"], want, "{uri}");
        }
    }

    #[test]
    fn registration_body_keeps_its_sorted_wire_bytes() {
        for scope in [None, Some("mcp:read \"x\"")] {
            let req = registration_request(
                "https://as.example/register",
                "Name \u{7f} é",
                "http://127.0.0.1:3030/callback",
                scope,
            );
            let mut want = serde_json::json!({
                "client_name": "Name \u{7f} é",
                "application_type": "native",
                "redirect_uris": ["http://127.0.0.1:3030/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            });
            if let Some(s) = scope {
                want["scope"] = s.into();
            }
            assert_eq!(
                String::from_utf8(req.body.clone().unwrap_or_default()).unwrap(),
                want.to_string()
            );
        }
    }

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn token_responses() {
        let ok = parse_token_response(&resp(200, r#"{"access_token":"a","token_type":"bEaReR","expires_in":"60","refresh_token":"r"}"#), 1000, Some("x y")).unwrap();
        assert_eq!(ok.expires_at, Some(1060));
        assert_eq!(
            ok.scope.as_deref(),
            Some("x y"),
            "missing scope means the requested one"
        );
        assert_eq!(ok.token_type, "Bearer");
        let no_expiry = parse_token_response(
            &resp(
                200,
                r#"{"access_token":"a","token_type":"Bearer","scope":"z"}"#,
            ),
            1000,
            None,
        )
        .unwrap();
        assert_eq!(
            (no_expiry.expires_at, no_expiry.scope.as_deref()),
            (None, Some("z"))
        );
        for bad in [
            r#"{"access_token":"a","token_type":"mac"}"#,
            r#"{"access_token":"a","token_type":"DPoP-ish"}"#,
            r#"{"access_token":"a"}"#,
            r#"{"token_type":"Bearer"}"#,
            r#"{"access_token":"","token_type":"Bearer"}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":-5}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":1.5}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":99999999999}"#,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":"soon"}"#,
            "not json",
        ] {
            let err = parse_token_response(&resp(200, bad), 0, None)
                .err()
                .unwrap_or_else(|| panic!("accepted {bad}"));
            assert_eq!(err.code(), "invalid_token_response", "{bad}");
        }
        let err = parse_token_response(
            &resp(
                400,
                r#"{"error":"invalid_grant","error_description":"gone"}"#,
            ),
            0,
            None,
        )
        .err()
        .unwrap();
        assert!(
            matches!(&*err, Error::TokenEndpoint { error, status: 400, .. } if error == "invalid_grant")
        );
        let err = parse_token_response(&resp(502, "<html>bad gateway</html>"), 0, None)
            .err()
            .unwrap();
        assert!(matches!(&*err, Error::TokenEndpoint { error, .. } if error == "http_502"));
    }

    #[test]
    fn a_refused_dpop_proof_names_the_clock() {
        let body = r#"{"error":"invalid_dpop_proof","error_description":"iat in the future"}"#;
        let shown = endpoint_error(&resp(400, body)).to_string();
        assert!(shown.starts_with("token endpoint error `invalid_dpop_proof`: iat in the future; the proof carries this machine's clock"), "{shown}");
        let shown = endpoint_error(&resp(400, r#"{"error":"invalid_dpop_proof"}"#)).to_string();
        assert!(shown.contains("correct the clock"), "{shown}");
        let shown = endpoint_error(&resp(400, r#"{"error":"invalid_grant"}"#)).to_string();
        assert!(!shown.contains("clock"), "{shown}");
    }

    #[test]
    fn a_clock_near_the_end_of_time_does_not_overflow_expiry() {
        let body = r#"{"access_token":"a","token_type":"Bearer","expires_in":315360000}"#;
        let got = parse_token_response(&resp(200, body), u64::MAX - 5, None).unwrap();
        assert_eq!(got.expires_at, Some(u64::MAX));
    }

    #[test]
    fn client_authentication_forms() {
        let mut client = ClientRecord {
            version: 1,
            issuer: "https://as".into(),
            client_id: "id:with space".into(),
            client_secret: Some(ClientSecret::new("p@ss/word")),
            auth_method: ClientAuthMethod::ClientSecretBasic,
            source: ClientSource::Configured,
            redirect_uris: vec![],
            registered_at: None,
        };
        let req = client_form_request("https://as/token", &client, &[("grant_type", "x")]);
        // RFC 6749 §2.3.1: form-urlencode both parts, then base64
        let expected = format!(
            "Basic {}",
            crate::b64::standard("id%3Awith+space:p%40ss%2Fword")
        );
        assert_eq!(req.header_value("authorization"), Some(expected.as_str()));
        assert_eq!(
            String::from_utf8(req.body.clone().unwrap()).unwrap(),
            "grant_type=x"
        );
        client.auth_method = ClientAuthMethod::ClientSecretPost;
        let req = client_form_request("https://as/token", &client, &[("grant_type", "x")]);
        assert!(req.header_value("authorization").is_none());
        assert_eq!(
            String::from_utf8(req.body.unwrap()).unwrap(),
            "grant_type=x&client_id=id%3Awith+space&client_secret=p%40ss%2Fword"
        );
        assert!(!format!(
            "{:?}",
            client_form_request("https://as/token", &client, &[])
        )
        .contains("p@ss"));
    }

    #[test]
    fn registration_responses() {
        let r = parse_registration_response(
            &resp(201, r#"{"client_id":"c1"}"#),
            "https://as",
            "http://localhost:3030/callback",
            5,
        )
        .unwrap();
        assert_eq!(
            (r.auth_method, r.source, r.redirect_uris.len()),
            (ClientAuthMethod::None, ClientSource::Dynamic, 1)
        );
        let r = parse_registration_response(
            &resp(201, r#"{"client_id":"c1","client_secret":"s"}"#),
            "https://as",
            "x",
            5,
        )
        .unwrap();
        assert_eq!(r.auth_method, ClientAuthMethod::ClientSecretBasic);
        let e = parse_registration_response(
            &resp(
                201,
                r#"{"client_id":"c1","token_endpoint_auth_method":"client_secret_post"}"#,
            ),
            "https://as",
            "x",
            5,
        )
        .unwrap_err();
        assert_eq!(e.code(), "registration");
        let e = parse_registration_response(
            &resp(400, r#"{"error":"invalid_redirect_uri"}"#),
            "https://as",
            "x",
            5,
        )
        .unwrap_err();
        assert!(e.to_string().contains("invalid_redirect_uri"), "{e}");
    }

    #[test]
    fn client_metadata_urls() {
        assert!(check_client_metadata_url("https://app.example.com/client.json").is_ok());
        for bad in [
            "http://app.example.com/c.json",
            "https://app.example.com/",
            "https://app.example.com",
            "https://app.example.com/c#x",
            "nope",
        ] {
            assert!(check_client_metadata_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn authorization_url_carries_every_parameter() {
        let url = authorization_url(&AuthorizationParams {
            authorization_endpoint: "https://as.example.com/authorize?tenant=a",
            client_id: "c",
            redirect_uri: "http://localhost:3030/callback",
            state: "s",
            code_challenge: "ch",
            resource: Some("https://mcp.example.com/mcp"),
            scope: Some("a b"),
            extra: &[("originator".into(), "mcp-auth".into())],
        })
        .unwrap();
        for (k, v) in [
            ("tenant", "a"),
            ("response_type", "code"),
            ("client_id", "c"),
            ("redirect_uri", "http://localhost:3030/callback"),
            ("state", "s"),
            ("code_challenge", "ch"),
            ("code_challenge_method", "S256"),
            ("resource", "https://mcp.example.com/mcp"),
            ("scope", "a b"),
            ("originator", "mcp-auth"),
        ] {
            assert_eq!(query_param(&url, k).as_deref(), Some(v), "{k}");
        }
        assert!(is_callback_for(
            "http://localhost:3030/callback?code=x&state=s",
            &url
        ));
        assert!(!is_callback_for(
            "http://localhost:3030/callback?code=x&state=t",
            &url
        ));
        assert!(!is_callback_for("http://localhost:3030/favicon.ico", &url));
    }

    #[test]
    fn server_words_in_errors_carry_no_control_characters() {
        let resp = HttpResponse {
            status: 400,
            headers: vec![],
            body: br#"{"error":"invalid_request\u001b[2J","error_description":"a\u001b]52;c;Zm9v\u0007b"}"#
                .to_vec(),
        };
        let shown = endpoint_error(&resp).to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        // whole escape sequences go, not only their control characters
        assert!(shown.contains("`invalid_request`: ab"), "{shown}");
        assert!(!shown.contains("]52") && !shown.contains("[2J"), "{shown}");
    }
}
