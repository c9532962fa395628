//! DPoP (RFC 9449, MCP SEP-1932): sender-constrained tokens.
//!
//! When the authorization server advertises ES256 in `dpop_signing_alg_values_supported`
//! (or the configuration says `dpop: required`), every token request and every request
//! carrying the access token gets a fresh proof: a `dpop+jwt` signed with the identity's
//! key, naming the method (`htm`), the URL without query or fragment (`htu`), the time
//! (`iat`), a random `jti`, the hash of the access token (`ath`) on resource requests, and
//! the server's nonce once one is known. A `use_dpop_nonce` answer is retried once with
//! the new nonce; nonces are remembered per origin for the life of the process.
//!
//! The key belongs to the host ([`crate::Host::dpop_key`], [`crate::Host::dpop_sign`]):
//! core asks for the public half and for signatures, never for the private key. The
//! default (native, Node) is a software P-256 key kept in the host's store ([`key`]); the
//! browser keeps a non-extractable WebCrypto key.

pub mod key;

use crate::client::McpAuth;
use crate::error::{Error, Result};
use crate::host::{Host, HttpRequest, HttpResponse, Method};
use crate::jose::{self, Alg, JwsSigner};
use crate::json::{Json, Object};
use crate::metadata::AuthServerMetadata;
use crate::secret::AccessToken;
use crate::sorted::{SortedMap, SortedSet};
use crate::urls::parse_http_url;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// A token request being built (for [`BuildRequest`]).
pub type RequestFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpRequest>> + 'a>>;

/// Builds a token request afresh for each attempt
/// ([`McpAuth::send_token_request_with`]).
pub type BuildRequest<'a> = dyn Fn() -> RequestFuture<'a> + 'a;

/// The only proof algorithm mcp-auth signs with.
pub const DPOP_ALG: &str = "ES256";
/// The `typ` of a proof (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

/// Whether to use DPoP with a server (`dpop:` in the configuration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DpopMode {
    /// When the authorization server advertises ES256 proofs (the default).
    #[default]
    Auto,
    /// Always; an authorization server that does not advertise ES256 proofs is refused.
    Required,
    /// Never (tokens are plain bearer tokens).
    Off,
}

crate::json_enum!(DpopMode {
    Auto = "auto",
    Required = "required",
    Off = "off",
});

impl DpopMode {
    /// A configured mode: its name, in any case, surrounding spaces ignored.
    pub fn parse(s: &str) -> Option<Self> {
        Self::from_name(&s.trim_ascii().to_ascii_lowercase())
    }
}

/// Whether token requests to this authorization server carry proofs.
pub fn use_dpop(mode: DpopMode, meta: &AuthServerMetadata) -> Result<bool> {
    let advertised = meta.dpop_signing_alg_values_supported.as_deref();
    let supported = advertised.is_some_and(|a| a.iter().any(|x| x == DPOP_ALG));
    match mode {
        DpopMode::Off => Ok(false),
        DpopMode::Auto => Ok(supported),
        DpopMode::Required if supported => Ok(true),
        DpopMode::Required => Err(Error::DpopUnsupported {
            issuer: meta.issuer.clone(),
            advertised: match advertised {
                Some(a) => format!("[{}]", crate::text::join(a, ", ")),
                None => "absent".into(),
            },
        }
        .boxed()),
    }
}

/// The public half of a P-256 key, as a JWK (RFC 7517/7518).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

crate::json_struct!(PublicJwk { kty, crv, x, y });

impl PublicJwk {
    /// The members as a JSON object (what a JWS header carries), in sorted order.
    pub fn to_map(&self) -> Object {
        Object::new()
            .with("crv", self.crv.as_str())
            .with("kty", self.kty.as_str())
            .with("x", self.x.as_str())
            .with("y", self.y.as_str())
    }

    /// The RFC 7638 SHA-256 thumbprint (what a bound token carries as `cnf.jkt`).
    pub fn thumbprint(&self) -> Result<String> {
        crate::jose::jwk_thumbprint(&self.to_map())
    }

    /// Refuses anything but a P-256 public key with coordinates of the right size.
    pub fn check(&self) -> Result<()> {
        // decoded into a buffer of the one size that is right: longer does not fit
        let size = |c: &str| crate::b64::url_decode_into(c, &mut [0; 32]).map_or(0, |b| b.len());
        if self.kty == "EC" && self.crv == "P-256" && size(&self.x) == 32 && size(&self.y) == 32 {
            Ok(())
        } else {
            Err(Error::DpopKey("the host's DPoP key is not a P-256 public key".into()).boxed())
        }
    }
}

/// The `htu` of a request: its URL without query and fragment (RFC 9449 §4.2).
pub fn htu(url: &str) -> Result<String> {
    let mut u = parse_http_url(url)?;
    u.set_query(None);
    u.set_fragment(None);
    Ok(u.into())
}

/// The `ath` claim: base64url(SHA-256(access token)).
pub fn ath(token: &AccessToken) -> String {
    crate::b64::url(Sha256::digest(token.secret().as_bytes()))
}

/// The identity's key as the host holds it: it signs, core never sees the private key.
struct HostSigner<'a, H: Host> {
    host: &'a H,
    identity: &'a str,
    jwk: &'a PublicJwk,
}

impl<H: Host> JwsSigner for HostSigner<'_, H> {
    fn alg(&self) -> Alg {
        Alg::Es256
    }
    fn public_jwk(&self) -> Object {
        self.jwk.to_map()
    }
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>> {
        let sig = self.host.dpop_sign(self.identity, signing_input).await?;
        if sig.len() != 64 {
            return Err(Error::DpopKey(format!(
                "the host's DPoP signature is {} bytes, not the 64 of ES256",
                sig.len()
            ))
            .boxed());
        }
        Ok(sig)
    }
}

/// The header value of a response that carries one.
const NONCE_HEADER: &str = "dpop-nonce";

/// Whether a token endpoint answer asks for (another) nonce: 400 `use_dpop_nonce` with a
/// `DPoP-Nonce` header (RFC 9449 §8).
pub fn is_as_nonce_challenge(resp: &HttpResponse) -> bool {
    resp.status == 400
        && resp.header(NONCE_HEADER).is_some()
        && crate::json::parse(&resp.body)
            .is_ok_and(|body| body.get("error").and_then(Json::as_str) == Some("use_dpop_nonce"))
}

/// Whether a resource server answer asks for (another) nonce: 401 with a `DPoP` challenge
/// whose error is `use_dpop_nonce`, and a `DPoP-Nonce` header (RFC 9449 §9).
pub fn is_rs_nonce_challenge(resp: &HttpResponse) -> bool {
    rs_nonce_challenge(resp.status, &resp.headers)
}

/// [`is_rs_nonce_challenge`] on a status and headers (an event stream's answer).
pub(crate) fn rs_nonce_challenge(status: u16, headers: &[(String, String)]) -> bool {
    status == 401
        && crate::host::find_header(headers, NONCE_HEADER).is_some()
        && crate::www_authenticate::parse_challenges(crate::host::all_named(
            headers,
            "www-authenticate",
        ))
        .iter()
        .any(|c| c.scheme == "dpop" && c.param("error") == Some("use_dpop_nonce"))
}

/// The nonces servers handed out, by origin, for the life of the process.
#[derive(Default)]
pub(crate) struct Nonces(Mutex<SortedMap<String>>);

impl Nonces {
    fn origin(url: &str) -> Option<String> {
        parse_http_url(url)
            .ok()
            .map(|u| u.origin().ascii_serialization())
    }

    pub(crate) fn get(&self, url: &str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&Self::origin(url)?).cloned()
    }

    /// Remembers the `DPoP-Nonce` a response from `url` carries (a new one replaces the
    /// old: servers rotate them).
    pub(crate) fn note(&self, url: &str, resp: &HttpResponse) {
        self.note_headers(url, &resp.headers);
    }

    /// [`Self::note`] on the headers of an event stream's answer.
    pub(crate) fn note_headers(&self, url: &str, headers: &[(String, String)]) {
        let nonce = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(NONCE_HEADER))
            .map(|(_, v)| v.as_str());
        let (Some(origin), Some(nonce)) = (Self::origin(url), nonce) else {
            return;
        };
        let nonce = nonce.trim_ascii();
        // a nonce is a non-empty run of visible ASCII (RFC 9449 §8.1); anything else is ignored
        if !crate::text::is_visible_ascii(nonce) {
            return;
        }
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(origin, nonce.to_string());
    }
}

impl<H: Host> McpAuth<H> {
    /// Lists the identity's DPoP key in the index (once per process), so that `clear --all`
    /// finds a key whose login never completed.
    async fn index_dpop_key(&self, identity: &str) -> Result<()> {
        let seen = |set: &SortedSet| set.contains(identity);
        if seen(&self.dpop_indexed.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(());
        }
        let name = key::key_name(identity);
        self.update_index(&|idx| idx.keys.insert(name.clone()))
            .await?;
        self.dpop_indexed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(identity.to_string());
        Ok(())
    }

    /// A fresh proof for one request, signed by the identity's key, with the nonce known for
    /// the URL's origin. Returns the proof and the key's thumbprint.
    pub async fn dpop_proof(
        &self,
        identity: &str,
        method: Method,
        url: &str,
        access_token: Option<&AccessToken>,
    ) -> Result<(String, String)> {
        let jwk = self.host.dpop_key(identity).await?;
        self.index_dpop_key(identity).await?;
        jwk.check()?;
        let jkt = jwk.thumbprint()?;
        let jti = crate::b64::url(crate::pkce::random_bytes(18)?);
        // members in sorted order (jws() prints them so anyway)
        let mut claims = Object::new();
        if let Some(t) = access_token {
            claims.insert("ath", ath(t));
        }
        claims.insert("htm", method.as_str());
        claims.insert("htu", htu(url)?);
        claims.insert("iat", self.host.now());
        claims.insert("jti", jti);
        if let Some(n) = self.nonces.get(url) {
            claims.insert("nonce", n);
        }
        let header = Object::new()
            .with("jwk", jwk.to_map())
            .with("typ", DPOP_TYP);
        let signer = HostSigner {
            host: &self.host,
            identity,
            jwk: &jwk,
        };
        Ok((jose::jws(header, &claims, &signer).await?, jkt))
    }

    /// Sends a request to a token endpoint (any grant). With `dpop`, it carries a fresh
    /// proof for `identity`'s key and a `use_dpop_nonce` answer is retried once with the
    /// new nonce. Returns the response and, when a proof went with it, the key's thumbprint
    /// (pass it to [`crate::oauth::TokenGrant::bind`]).
    pub async fn send_token_request(
        &self,
        identity: &str,
        request: HttpRequest,
        dpop: bool,
    ) -> Result<(HttpResponse, Option<String>)> {
        let build = || -> RequestFuture<'_> {
            let request = request.clone();
            Box::pin(async move { Ok(request) })
        };
        self.send_token_request_with(identity, &build, dpop).await
    }

    /// [`Self::send_token_request`] with the request built afresh for each attempt: a
    /// request carrying a one-time credential (a `private_key_jwt` client assertion, whose
    /// `jti` the server has seen) gets a new one for the nonce retry.
    ///
    /// `build` is a trait object (one instance of this flow in the wasm build, not one per
    /// caller).
    pub async fn send_token_request_with<'b>(
        &self,
        identity: &str,
        build: &'b BuildRequest<'b>,
        dpop: bool,
    ) -> Result<(HttpResponse, Option<String>)> {
        if !dpop {
            return Ok((self.host.send(build().await?).await?, None));
        }
        let mut retried = false;
        loop {
            let mut req = build().await?;
            let url = req.url.clone();
            let (proof, jkt) = self
                .dpop_proof(identity, req.method, &req.url, None)
                .await?;
            req.set_header("dpop", proof);
            let resp = self.host.send(req).await?;
            self.nonces.note(&url, &resp);
            if !retried && is_as_nonce_challenge(&resp) {
                retried = true;
                continue;
            }
            return Ok((resp, Some(jkt)));
        }
    }

    /// Sets the `Authorization` header (and, for a DPoP-bound token, a fresh proof) on a
    /// request that carries the record's access token.
    pub(crate) async fn authorize_request(
        &self,
        req: &mut HttpRequest,
        record: &crate::records::TokenRecord,
    ) -> Result<()> {
        if !record.is_dpop_bound() {
            req.set_header(
                "authorization",
                format!("Bearer {}", record.access_token.secret()),
            );
            return Ok(());
        }
        let (proof, jkt) = self
            .dpop_proof(
                &record.identity,
                req.method,
                &req.url,
                Some(&record.access_token),
            )
            .await?;
        if record.dpop_jkt.as_deref() != Some(jkt.as_str()) {
            // the key the token is bound to is gone (cleared, or another host's store)
            return Err(Error::ReauthenticationRequired {
                identity: record.resource.clone(),
            }
            .boxed());
        }
        req.set_header(
            "authorization",
            format!("DPoP {}", record.access_token.secret()),
        );
        req.set_header("dpop", proof);
        Ok(())
    }

    /// Remembers a nonce a resource server's response carries.
    pub(crate) fn note_nonce(&self, url: &str, resp: &HttpResponse) {
        self.nonces.note(url, resp);
    }
}

#[cfg(all(test, feature = "software-keys"))]
mod tests;
