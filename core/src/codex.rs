//! OpenAI Codex (ChatGPT sign-in): a provider with a fixed authorization server and a fixed
//! public client, so no discovery and no registration. Also reads the ChatGPT account from
//! the id_token and the Codex CLI's `auth.json` (read only; hosts find and read the file).

use crate::client::AuthOptions;
use crate::error::{Error, Result};
use crate::metadata::AuthServerMetadata;

/// The ChatGPT sign-in issuer.
pub const DEFAULT_ISSUER: &str = "https://auth.openai.com";
/// Codex's public client.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// The loopback redirect Codex's client is registered with.
pub const REDIRECT_URI: &str = "http://localhost:1455/auth/callback";
pub const SCOPE: &str = "openid profile email offline_access";
/// The id_token claim that carries the ChatGPT account.
pub const AUTH_CLAIM: &str = "https://api.openai.com/auth";

/// The issuer without a trailing slash (the default unless a host overrides it, e.g. tests).
pub fn issuer(override_base: Option<&str>) -> String {
    override_base
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_ISSUER)
        .trim_end_matches('/')
        .to_string()
}

/// The "server URL" Codex tokens are stored under (their identity is its origin).
pub fn server_url(issuer: &str) -> String {
    issuer.trim_end_matches('/').to_string()
}

/// The fixed authorization server: `<issuer>/oauth/authorize` and `<issuer>/oauth/token`.
pub fn server_metadata(issuer: &str) -> AuthServerMetadata {
    let issuer = issuer.trim_end_matches('/');
    AuthServerMetadata {
        issuer: issuer.to_string(),
        authorization_endpoint: format!("{issuer}/oauth/authorize"),
        token_endpoint: format!("{issuer}/oauth/token"),
        code_challenge_methods_supported: Some(vec!["S256".into()]),
        scopes_supported: Some(SCOPE.split(' ').map(str::to_string).collect()),
        ..Default::default()
    }
}

/// How to log in to Codex: PKCE with the fixed client, scope and extra parameters.
pub fn auth_options(issuer: &str, originator: &str) -> AuthOptions {
    AuthOptions {
        redirect_uri: REDIRECT_URI.into(),
        scope: Some(SCOPE.into()),
        client_id: Some(CLIENT_ID.into()),
        extra_params: vec![
            ("id_token_add_organizations".into(), "true".into()),
            ("codex_cli_simplified_flow".into(), "true".into()),
            ("originator".into(), originator.into()),
        ],
        fixed_server: Some(server_metadata(issuer)),
        ..AuthOptions::default()
    }
}

/// What the id_token says about the ChatGPT account (the signature is not checked: the token
/// came straight from the token endpoint over TLS, and this is only shown to the user).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatGptAccount {
    pub account_id: Option<String>,
    pub plan_type: Option<String>,
    pub email: Option<String>,
}

crate::json_struct!(ChatGptAccount {
    account_id,
    plan_type,
    email,
});

struct Claims {
    email: Option<String>,
    auth: Option<AuthClaim>,
}

crate::json_struct!(Claims {
    email,
    auth as "https://api.openai.com/auth",
});

struct AuthClaim {
    chatgpt_account_id: Option<String>,
    chatgpt_plan_type: Option<String>,
}

crate::json_struct!(AuthClaim {
    chatgpt_account_id,
    chatgpt_plan_type,
});

/// Reads the account from an id_token's payload.
pub fn account_from_id_token(id_token: &str) -> Result<ChatGptAccount> {
    let payload = id_token
        .split('.')
        .nth(1)
        .ok_or_else(|| Error::invalid_token_response("the id_token is not a JWT"))?;
    let bytes = crate::b64::url_decode(payload.trim_end_matches('='))
        .ok_or_else(|| Error::invalid_token_response("the id_token payload is not base64url"))?;
    let claims: Claims = crate::json::from_slice(&bytes).map_err(|e| {
        Error::InvalidTokenResponse(format!("the id_token payload is not JSON ({e})"))
    })?;
    let auth = claims.auth;
    Ok(ChatGptAccount {
        account_id: auth.as_ref().and_then(|a| a.chatgpt_account_id.clone()),
        plan_type: auth.and_then(|a| a.chatgpt_plan_type),
        email: claims.email,
    })
}

/// The ChatGPT account id (`https://api.openai.com/auth` → `chatgpt_account_id`).
pub fn chatgpt_account_id(id_token: &str) -> Option<String> {
    account_from_id_token(id_token).ok()?.account_id
}

/// The tokens in a Codex CLI `auth.json` (no secrets reach `Debug`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodexCliAuth {
    pub access_token: Option<crate::AccessToken>,
    pub refresh_token: Option<crate::RefreshToken>,
    pub id_token: Option<crate::AccessToken>,
    pub account_id: Option<String>,
    pub last_refresh: Option<String>,
    pub has_api_key: bool,
}

struct RawAuthJson {
    api_key: Option<String>,
    tokens: Option<RawAuthTokens>,
    last_refresh: Option<String>,
}

crate::json_struct!(RawAuthJson {
    api_key as "OPENAI_API_KEY",
    tokens,
    last_refresh,
});

struct RawAuthTokens {
    id_token: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    account_id: Option<String>,
}

crate::json_struct!(RawAuthTokens {
    id_token,
    access_token,
    refresh_token,
    account_id,
});

/// Parses a Codex CLI `auth.json`. The account id comes from the file, else the id_token.
pub fn parse_codex_auth_json(text: &str) -> Result<CodexCliAuth> {
    let raw: RawAuthJson = crate::json::from_slice(text.as_bytes())
        .map_err(|e| Error::Invalid(format!("the Codex auth.json is not valid ({e})")))?;
    let tokens = raw.tokens;
    let id_token = tokens.as_ref().and_then(|t| t.id_token.clone());
    let account_id = tokens
        .as_ref()
        .and_then(|t| t.account_id.clone())
        .or_else(|| id_token.as_deref().and_then(chatgpt_account_id));
    Ok(CodexCliAuth {
        access_token: tokens
            .as_ref()
            .and_then(|t| t.access_token.clone())
            .filter(|t| !t.is_empty())
            .map(crate::AccessToken::new),
        refresh_token: tokens
            .as_ref()
            .and_then(|t| t.refresh_token.clone())
            .filter(|t| !t.is_empty())
            .map(crate::RefreshToken::new),
        id_token: id_token.map(crate::AccessToken::new),
        account_id,
        last_refresh: raw.last_refresh,
        has_api_key: raw.api_key.is_some_and(|k| !k.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.sig",
            crate::b64::url(br#"{"alg":"RS256"}"#),
            crate::b64::url(payload.as_bytes())
        )
    }

    #[test]
    fn account_id_comes_from_the_openai_auth_claim() {
        let t = jwt(
            r#"{"email":"a@b.c","https://api.openai.com/auth":{"chatgpt_account_id":"acc-123","chatgpt_plan_type":"plus"}}"#,
        );
        assert_eq!(chatgpt_account_id(&t).as_deref(), Some("acc-123"));
        let acc = account_from_id_token(&t).expect("claims");
        assert_eq!(acc.plan_type.as_deref(), Some("plus"));
        assert_eq!(acc.email.as_deref(), Some("a@b.c"));
    }

    #[test]
    fn missing_claim_or_garbage_gives_none() {
        assert_eq!(chatgpt_account_id(&jwt(r#"{"sub":"x"}"#)), None);
        assert_eq!(chatgpt_account_id("not-a-jwt"), None);
        assert!(account_from_id_token("a.!!!.c").is_err());
    }

    #[test]
    fn options_carry_the_fixed_client_and_parameters() {
        let o = auth_options(&issuer(Some("http://127.0.0.1:9/")), "mcp-auth");
        assert_eq!(o.client_id.as_deref(), Some(CLIENT_ID));
        assert_eq!(o.redirect_uri, REDIRECT_URI);
        assert_eq!(o.scope.as_deref(), Some(SCOPE));
        let meta = o.fixed_server.expect("fixed");
        assert_eq!(
            meta.authorization_endpoint,
            "http://127.0.0.1:9/oauth/authorize"
        );
        assert_eq!(meta.token_endpoint, "http://127.0.0.1:9/oauth/token");
        for (k, v) in [
            ("id_token_add_organizations", "true"),
            ("codex_cli_simplified_flow", "true"),
            ("originator", "mcp-auth"),
        ] {
            assert!(o.extra_params.iter().any(|(a, b)| a == k && b == v), "{k}");
        }
        assert_eq!(issuer(None), DEFAULT_ISSUER);
    }

    #[test]
    fn codex_cli_auth_json_is_read() {
        let id = jwt(r#"{"https://api.openai.com/auth":{"chatgpt_account_id":"from-jwt"}}"#);
        let text = format!(
            r#"{{"OPENAI_API_KEY":null,"tokens":{{"id_token":"{id}","access_token":"at","refresh_token":"rt"}},"last_refresh":"2025-01-01T00:00:00Z"}}"#
        );
        let a = parse_codex_auth_json(&text).expect("parse");
        assert_eq!(a.account_id.as_deref(), Some("from-jwt"));
        assert_eq!(a.access_token.as_ref().map(|t| t.secret()), Some("at"));
        assert!(!a.has_api_key);
        assert!(!format!("{a:?}").contains("\"at\""));
        assert!(parse_codex_auth_json("{").is_err());
    }
}
