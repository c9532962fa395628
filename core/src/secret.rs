//! Secrets as newtypes: `Debug` prints a redaction, so a token cannot reach a log by accident.
//! The value is only reachable through an explicit `secret()` call.

use std::fmt;

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Default, PartialEq, Eq)]
        pub struct $name(String);

        /// Stored as the bare string.
        impl $crate::json::FromJson for $name {
            fn from_json(value: &$crate::json::Json) -> Result<Self, $crate::json::JsonError> {
                <String as $crate::json::FromJson>::from_json(value).map(Self)
            }
        }

        impl $crate::json::ToJson for $name {
            fn to_json(&self) -> $crate::json::Json {
                $crate::json::Json::String(self.0.clone())
            }
        }

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The secret value itself. Every call site is a place a secret leaves the type.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// An OAuth access token.
    AccessToken
);
secret_type!(
    /// An OAuth refresh token.
    RefreshToken
);
secret_type!(
    /// A PKCE code verifier (RFC 7636).
    PkceCodeVerifier
);
secret_type!(
    /// A confidential client's secret.
    ClientSecret
);
secret_type!(
    /// A one-time authorization code.
    AuthorizationCode
);
secret_type!(
    /// A JWT presented as a grant or handed to a token exchange: a workload identity token,
    /// an identity provider's ID token, an ID-JAG.
    Assertion
);
secret_type!(
    /// The private scalar of a software DPoP key (base64url).
    DpopPrivateKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_every_secret() {
        let shown = format!(
            "{:?} {:?} {:?} {:?} {:?}",
            AccessToken::new("at-SECRET"),
            RefreshToken::new("rt-SECRET"),
            PkceCodeVerifier::new("pv-SECRET"),
            ClientSecret::new("cs-SECRET"),
            AuthorizationCode::new("ac-SECRET")
        );
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("AccessToken([redacted])"));
    }
}
