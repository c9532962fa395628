//! The messages of the grants without a browser: the client assertion (RFC 7523 §2.2), the
//! token requests (client credentials, JWT bearer, RFC 8693 token exchange for an ID-JAG)
//! and reading the token exchange's answer. Pure functions but for the signature.

use crate::error::{Error, Result};
use crate::host::{HttpRequest, HttpResponse};
use crate::jose::{jws, Alg, SigningKey};
use crate::json::Object;
use crate::metadata::AuthServerMetadata;
use crate::oauth::client_form_request;
use crate::records::{ClientAuthMethod, ClientRecord};
use crate::secret::Assertion;

pub const CLIENT_CREDENTIALS: &str = "client_credentials";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const TOKEN_TYPE_ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const TOKEN_TYPE_ID_JAG: &str = "urn:ietf:params:oauth:token-type:id-jag";

/// How long a client assertion is valid (seconds): it is used at once.
pub const CLIENT_ASSERTION_LIFETIME: u64 = 60;

/// The RFC 7523 client assertion: `iss` = `sub` = the client id, `aud` = the authorization
/// server's issuer identifier, a short `exp`, `iat` and a random `jti`.
pub async fn client_assertion(
    key: &SigningKey,
    client_id: &str,
    issuer: &str,
    now: u64,
) -> Result<String> {
    let jti = crate::b64::url(crate::pkce::random_bytes(24)?);
    // members in sorted order (jws() prints them so anyway)
    let claims = Object::new()
        .with("aud", issuer)
        .with("exp", now.saturating_add(CLIENT_ASSERTION_LIFETIME))
        .with("iat", now)
        .with("iss", client_id)
        .with("jti", jti)
        .with("sub", client_id);
    let header = Object::new().with("typ", "JWT");
    jws(header, &claims, key).await
}

/// Fails when the authorization server lists the algorithms it takes for `private_key_jwt`
/// and the key's is not one of them.
pub fn check_signing_alg(key: &SigningKey, meta: &AuthServerMetadata) -> Result<()> {
    let Some(list) = &meta.token_endpoint_auth_signing_alg_values_supported else {
        return Ok(());
    };
    let alg: Alg = key.alg();
    if list.iter().any(|a| a == alg.as_str()) {
        return Ok(());
    }
    Err(Error::SigningKey(format!(
        "the authorization server `{}` takes only [{}] for private_key_jwt, and the key signs {alg}; configure a key of one of those algorithms",
        meta.issuer,
        crate::text::join(list, ", ")
    )).boxed())
}

/// A form POST to `endpoint` with `params`, the client authenticated as its record says
/// (`private_key_jwt` with a fresh assertion signed by `key` for `audience`).
pub async fn token_request(
    endpoint: &str,
    client: &ClientRecord,
    key: Option<&SigningKey>,
    audience: &str,
    now: u64,
    params: &[(&str, &str)],
) -> Result<HttpRequest> {
    if client.auth_method != ClientAuthMethod::PrivateKeyJwt {
        return Ok(client_form_request(endpoint, client, params));
    }
    let key = key.ok_or_else(|| {
        Error::SigningKey(format!(
            "client {} uses private_key_jwt but no private key is configured (private_key_file)",
            client.client_id
        ))
    })?;
    let assertion = client_assertion(key, &client.client_id, audience, now).await?;
    let mut all: Vec<(&str, &str)> = params.to_vec();
    all.push(("client_assertion_type", CLIENT_ASSERTION_TYPE));
    all.push(("client_assertion", &assertion));
    Ok(client_form_request(endpoint, client, &all))
}

/// The RFC 8693 request at the identity provider: the user's ID token for an ID-JAG
/// (SEP-990) naming the MCP authorization server (`audience`) and the MCP server
/// (`resource`).
pub struct ExchangeParams<'a> {
    pub id_token: &'a Assertion,
    pub audience: &'a str,
    pub resource: &'a str,
    pub scope: Option<&'a str>,
}

pub fn exchange_params<'a>(p: &'a ExchangeParams<'a>) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("requested_token_type", TOKEN_TYPE_ID_JAG),
        ("audience", p.audience),
        ("resource", p.resource),
        ("subject_token", p.id_token.secret()),
        ("subject_token_type", TOKEN_TYPE_ID_TOKEN),
    ];
    if let Some(s) = p.scope {
        params.push(("scope", s));
    }
    params
}

struct RawExchange {
    access_token: Option<String>,
    issued_token_type: Option<String>,
}

crate::json_struct!(RawExchange {
    access_token,
    issued_token_type,
});

/// Reads the identity provider's answer: an ID-JAG in `access_token`, with
/// `issued_token_type` saying so (`token_type` is `N_A` and not checked).
pub fn parse_exchange_response(resp: &HttpResponse, party: &str) -> Result<Assertion> {
    if !resp.is_success() {
        return Err(refused(party, resp).boxed());
    }
    let invalid = |what: &str| Error::InvalidTokenResponse(format!("{party}: {what}"));
    let raw: RawExchange = crate::json::from_slice(&resp.body)
        .map_err(|e| invalid(&format!("the token exchange answer is not JSON ({e})")))?;
    match raw.issued_token_type.as_deref() {
        Some(TOKEN_TYPE_ID_JAG) => {}
        Some(other) => {
            return Err(invalid(&format!(
                "it issued a `{}`, not an ID-JAG ({TOKEN_TYPE_ID_JAG})",
                crate::text::printable(other, 80)
            ))
            .boxed())
        }
        None => return Err(invalid("the answer has no issued_token_type").boxed()),
    }
    raw.access_token
        .filter(|t| !t.is_empty())
        .map(Assertion::new)
        .ok_or_else(|| invalid("the answer has no access_token (the ID-JAG)").boxed())
}

/// The error of a refused grant, naming who refused it.
pub fn refused(party: &str, resp: &HttpResponse) -> Error {
    into_refused(party, crate::oauth::endpoint_error(resp))
}

/// A client that authenticates with its own signed assertion (RFC 7523 §3: `iat`, `exp`,
/// checked "subject to allowable clock skew") and is refused as `invalid_client` is told that
/// the assertion carries this machine's clock.
pub fn with_assertion_clock_hint(e: Error, auth_method: ClientAuthMethod) -> Error {
    match e {
        Error::TokenEndpoint {
            error,
            description,
            status,
        } if error == "invalid_client" && auth_method == ClientAuthMethod::PrivateKeyJwt => {
            let hint = "the client assertion carries this machine's clock (`iat`, `exp`): \
                        if the system clock is minutes off, the server takes it as expired or \
                        from the future; correct the clock";
            Error::TokenEndpoint {
                error,
                description: Some(match description {
                    Some(d) => format!("{d}; {hint}"),
                    None => hint.into(),
                }),
                status,
            }
        }
        other => other,
    }
}

/// Names the party in a token endpoint error.
pub fn into_refused(party: &str, e: Error) -> Error {
    match e {
        Error::TokenEndpoint {
            error,
            description,
            status,
        } => Error::GrantRefused {
            party: party.to_string(),
            error,
            // already made printable by `endpoint_error`; bounded again with room for a hint
            description: description.map(|d| crate::text::printable(&d, 600)),
            status,
        },
        other => other,
    }
}
