//! The `LoginOptions` of the grants without a browser: `grant`, `assertion` (a workload
//! token), and for enterprise-managed authorization `idpTokenEndpoint`, `idpClientId`,
//! `idpClientSecret`, `idToken`. The tokens are given as values on each call (read them afresh
//! before each call; platforms rotate them). An identity provider secret is refused in a
//! browser, like a client secret. `privateKey` (`private_key_jwt`, Node only; refused in a
//! browser like a secret) is imported into WebCrypto, which signs the client assertions
//! (`client_key.rs`): the build keeps no private key of its own.

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
        .filter(|v| !v.trim_ascii().is_empty())
        .ok_or_else(|| invalid(format!("grant `{grant}` needs the option `{name}`")))
}

/// Reads the grant options into `o` (nothing set: the browser login, as before).
pub(crate) fn apply(options: &JsValue, o: &mut AuthOptions, browser: bool) -> Result<(), JsValue> {
    if let Some(text) = opt_str(options, "privateKey")? {
        if browser {
            return Err(browser_refuses("privateKey"));
        }
        let alg = opt_str(options, "signingAlg")?;
        #[cfg(target_arch = "wasm32")]
        {
            o.client_key = Some(
                crate::client_key::client_key(&text, alg.as_deref()).map_err(crate::js_error)?,
            );
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = (text, alg);
            return Err(coded_error(
                "privateKey is signed through WebCrypto: only the wasm build takes it",
                "signing_key",
            ));
        }
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
