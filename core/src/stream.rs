//! Tokens for requests the host sends itself, such as the long-lived event stream of the
//! 2024-11-05 HTTP+SSE transport, which [`McpAuth::authorized_request`] cannot carry (it
//! reads whole responses). The 401 policy is the same: refresh once, then log in again.

use crate::client::{AuthOptions, McpAuth, Retry};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::records::TokenRecord;
use crate::secret::AccessToken;
use crate::urls::identity;

impl<H: Host> McpAuth<H> {
    /// A token record to send on a request the host makes itself. Without `rejected`: the
    /// stored token (refreshed if it is about to expire), or a login when there is none.
    /// With `rejected` (the server answered 401 to that token): a refreshed token, or a new
    /// login when refreshing cannot help. Logins only happen when `opts.interactive`.
    pub async fn token_for(
        &self,
        server_url: &str,
        rejected: Option<&AccessToken>,
        opts: &AuthOptions,
    ) -> Result<TokenRecord> {
        identity(server_url)?;
        let attempt = match rejected {
            None => self.valid_record(server_url).await,
            Some(t) => self.refresh(server_url, Some(t)).await,
        };
        let needs_login = match &attempt {
            Ok(r) => rejected.is_some_and(|t| &r.access_token == t),
            Err(e) => e.needs_login(),
        };
        if !needs_login {
            return attempt;
        }
        if !opts.interactive {
            return Err(Error::ReauthenticationRequired {
                identity: server_url.to_string(),
            }
            .boxed());
        }
        self.login_and_read(server_url, opts, Retry::default())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::AuthServerMetadata;
    use crate::records::{discovery_key, tokens_key, DiscoveryRecord, RECORD_VERSION};
    use crate::test_host::{json, MemHost};
    use futures_util::FutureExt;

    const URL: &str = "http://127.0.0.1:9/sse";
    const ID: &str = "http://127.0.0.1:9";

    fn mock(with_token: bool) -> McpAuth<MemHost> {
        let m = MemHost::new(|_| {
            json(
                200,
                &serde_json::json!({"access_token":"new","token_type":"Bearer","expires_in":3600}),
            )
        });
        let disc = DiscoveryRecord {
            version: RECORD_VERSION,
            resource: URL.into(),
            protected_resource: None,
            authorization_server: AuthServerMetadata {
                issuer: ID.into(),
                authorization_endpoint: format!("{ID}/authorize"),
                token_endpoint: format!("{ID}/token"),
                ..Default::default()
            },
            metadata_url: None,
            fixed: false,
            fetched_at: 1000,
        };
        m.put(&discovery_key(URL), &crate::json::to_value(&disc));
        if with_token {
            m.put(
                &tokens_key(ID, URL),
                &serde_json::json!({
                    "identity": ID, "resource": URL, "issuer": ID, "client_id": "c",
                    "access_token": "old", "token_type": "Bearer", "refresh_token": "r",
                    "expires_at": 5000, "obtained_at": 900,
                    "token_endpoint": format!("{ID}/token")
                }),
            );
        }
        McpAuth::new(m)
    }
    fn opts(interactive: bool) -> AuthOptions {
        AuthOptions {
            interactive,
            ..AuthOptions::default()
        }
    }

    #[test]
    fn a_valid_token_is_used_as_is() {
        let auth = mock(true);
        let r = auth
            .token_for(URL, None, &opts(false))
            .now_or_never()
            .expect("ready")
            .expect("token");
        assert_eq!(r.access_token.secret(), "old");
        assert!(auth.host().sent_urls().is_empty());
    }

    #[test]
    fn a_rejected_token_is_refreshed_once() {
        let auth = mock(true);
        let old = AccessToken::new("old");
        let r = auth
            .token_for(URL, Some(&old), &opts(false))
            .now_or_never()
            .expect("ready")
            .expect("token");
        assert_eq!(r.access_token.secret(), "new");
        assert_eq!(auth.host().sent_urls(), [format!("{ID}/token")]);
    }

    #[test]
    fn no_token_and_no_login_allowed_says_reauthenticate() {
        let auth = mock(false);
        let e = auth
            .token_for(URL, None, &opts(false))
            .now_or_never()
            .expect("ready")
            .expect_err("needs a login");
        assert_eq!(e.code(), "reauthentication_required");
        // interactive: the login is attempted (and the host's browser error comes back)
        let with_client = AuthOptions {
            client_id: Some("c".into()),
            ..opts(true)
        };
        let e = auth
            .token_for(URL, None, &with_client)
            .now_or_never()
            .expect("ready")
            .expect_err("no browser");
        assert_eq!(e.code(), "browser");
    }
}
