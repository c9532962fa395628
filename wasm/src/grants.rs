//! The `LoginOptions` of the grants without a browser: `grant`, `assertion` (a workload
//! token), and for enterprise-managed authorization `idpTokenEndpoint`, `idpClientId`,
//! `idpClientSecret`, `idToken`. The tokens are given as values on each call (read them afresh
//! before each call; platforms rotate them). An identity provider secret is refused in a
//! browser, like a client secret. `privateKey` (`private_key_jwt`) is refused by this build:
//! it keeps no private keys in memory (core without `software-keys`; its only signing is the
//! WebCrypto DPoP key), so a client with a key uses the CLI, or a secret here.

use crate::js::opt_str;
use crate::{coded_error, invalid};
use mcp_auth_core::grants::{AssertionSource, EnterpriseGrant, Grant};
use mcp_auth_core::{Assertion, AuthOptions, ClientSecret};
use wasm_bindgen::JsValue;

fn browser_refuses(what: &str) -> JsValue {
    coded_error(
        &format!(
            "a {what} cannot be kept secret in a browser: any script on the page can read it. \
             Keep the confidential client in a backend; Node may pass one"
        ),
        "client_secret_in_browser",
    )
}

fn required(options: &JsValue, name: &str, grant: &str) -> Result<String, JsValue> {
    opt_str(options, name)?
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| invalid(format!("grant `{grant}` needs the option `{name}`")))
}

/// Reads the grant options into `o` (nothing set: the browser login, as before).
pub(crate) fn apply(options: &JsValue, o: &mut AuthOptions, browser: bool) -> Result<(), JsValue> {
    if opt_str(options, "privateKey")?.is_some() {
        if browser {
            return Err(browser_refuses("privateKey"));
        }
        return Err(coded_error(
            "privateKey (private_key_jwt) is not available in the wasm build: it keeps no private keys \
             in memory. Use clientSecret (client_secret_basic / _post), or the mcp-auth CLI \
             (private_key_file) for a client that authenticates with a key",
            "signing_key",
        ));
    }
    o.grant = match opt_str(options, "grant")?.as_deref() {
        None | Some("authorization_code") => Grant::AuthorizationCode,
        Some("client_credentials") => Grant::ClientCredentials,
        Some("jwt_bearer") => Grant::JwtBearer {
            assertion: AssertionSource::Value(Assertion::new(required(
                options,
                "assertion",
                "jwt_bearer",
            )?)),
        },
        Some("token_exchange") => {
            let secret = opt_str(options, "idpClientSecret")?;
            if secret.is_some() && browser {
                return Err(browser_refuses("idpClientSecret"));
            }
            Grant::TokenExchange(Box::new(EnterpriseGrant {
                idp_token_endpoint: required(options, "idpTokenEndpoint", "token_exchange")?,
                idp_client_id: required(options, "idpClientId", "token_exchange")?,
                idp_client_secret: secret.map(ClientSecret::new),
                id_token: AssertionSource::Value(Assertion::new(required(
                    options,
                    "idToken",
                    "token_exchange",
                )?)),
            }))
        }
        Some(other) => {
            return Err(invalid(format!(
                "grant `{other}` is not authorization_code, client_credentials, jwt_bearer or token_exchange"
            )))
        }
    };
    Ok(())
}
