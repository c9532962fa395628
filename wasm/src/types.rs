//! The TypeScript declarations of the package's API (`mcp_auth.d.ts`): the interfaces of
//! the options and results, and the typed names the exported methods take and return.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Key/value storage for the records (the CLI's format). Each function may return a promise. */
export interface McpAuthStorage {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  delete(key: string): void | Promise<void>;
}

/**
 * Takes the user to the authorization URL. Return the full callback URL the browser came back
 * to (Node, popup windows, tests), or `undefined` after navigating the page away (full-page
 * redirect: finish later with `completeLogin(location.href)`).
 */
export type McpAuthRedirect = (
  authorizationUrl: string,
  redirectUri: string,
) => string | null | undefined | Promise<string | null | undefined>;

export interface McpAuthClientOptions {
  storage: McpAuthStorage;
  redirect?: McpAuthRedirect;
  /** Defaults to `globalThis.fetch`. Called with `redirect: 'manual'`. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Defaults to the page's origin + path in a browser, `http://localhost:3030/callback` elsewhere. */
  redirectUri?: string;
  /** The client name sent in dynamic client registration. Default: `mcp-auth`. */
  clientName?: string;
  /**
   * Holds a lock shared by every client on the same storage (other tabs, other processes)
   * around a refresh, so that two of them never spend the same refresh token. Resolves once
   * the lock is held, to a function that releases it. In browsers, e.g. with Web Locks:
   * `name => new Promise(held => navigator.locks.request(name, () => new Promise(held)))`.
   */
  lock?: (name: string) => Promise<() => void>;
  /**
   * Where DPoP keys live. Default: `"webcrypto"` where `indexedDB` and `crypto.subtle` exist
   * (browsers: a non-extractable ECDSA P-256 key per identity in IndexedDB, usable but never
   * exportable), else `"store"` (a software key record in `storage`, shared with the CLI
   * through the file store in Node).
   */
  dpopKeys?: "webcrypto" | "store";
}

export interface LoginOptions {
  /** Space-separated scopes; by default the server's challenge or metadata decides. */
  scope?: string;
  /** A pre-registered client. */
  clientId?: string;
  clientSecret?: string;
  clientAuthMethod?: "none" | "client_secret_basic" | "client_secret_post" | "private_key_jwt";
  /** A Client ID Metadata Document URL (used when the server supports it). */
  clientMetadataUrl?: string;
  redirectUri?: string;
  clientName?: string;
  /** Extra authorization request parameters. */
  extraParams?: Record<string, string>;
  /** Whether `authorizedFetch` may start a login when it needs one (default true). */
  interactive?: boolean;
  /**
   * The issuer a pre-registered client belongs to. Without it, the client is bound to the
   * issuer of its first completed login and refused (code `configured_client_issuer`) with
   * any other, before its secret is sent anywhere.
   */
  issuer?: string;
  /** Escape hatch, off by default: `false` stops sending the RFC 8707 `resource` parameter. */
  sendResource?: boolean;
  /** Escape hatch, off by default: take PKCE S256 as supported when the metadata does not say. */
  assumePkceS256?: boolean;
  /**
   * How tokens are obtained: the browser login (default), or without a browser:
   * `client_credentials` (clientId with clientSecret), `jwt_bearer` (a workload
   * identity token in `assertion`), `token_exchange` (enterprise-managed authorization: the
   * IdP's ID token in `idToken` exchanged at `idpTokenEndpoint` for an ID-JAG). Such tokens
   * are renewed by running the grant again (pass fresh `assertion`/`idToken` each call).
   */
  grant?: "authorization_code" | "client_credentials" | "jwt_bearer" | "token_exchange";
  /**
   * `private_key_jwt` (Node only; refused in a browser, code `client_secret_in_browser`): the
   * client's key as a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) or a private JWK; a P-256 key
   * signs ES256, an RSA key RS256. It is imported into WebCrypto (not extractable) and signs
   * each client assertion (`iss` = `sub` = clientId, `aud` = the issuer, 60 s, fresh `jti`).
   * A key that is not one of these is refused with code `signing_key`.
   */
  privateKey?: string;
  /** With `privateKey`: the algorithm the key must sign with (`ES256` or `RS256`). */
  signingAlg?: string;
  /** `jwt_bearer`: the workload identity token (RFC 7523 assertion). */
  assertion?: string;
  /** `token_exchange`: the identity provider's token endpoint (RFC 8693). */
  idpTokenEndpoint?: string;
  /** `token_exchange`: the client id at the identity provider. */
  idpClientId?: string;
  /** `token_exchange`: its secret there (HTTP Basic). Node only. */
  idpClientSecret?: string;
  /** `token_exchange`: the user's ID token from the identity provider. */
  idToken?: string;
  /**
   * DPoP-bound tokens (RFC 9449): `"auto"` (default) when the authorization server offers
   * ES256 proofs, `"required"` (refuse one that does not: code `dpop_unsupported`), `"off"`.
   */
  dpop?: "auto" | "required" | "off";
}

/** What a login or refresh left in the store (no secrets). */
export interface TokenInfo {
  identity: string;
  resource: string;
  issuer: string;
  clientId: string;
  scope: string | null;
  /** Seconds since the Unix epoch. */
  expiresAt: number | null;
  hasRefreshToken: boolean;
  /** The grant that obtained the tokens when it was not the browser login. */
  flow: "client_credentials" | "jwt_bearer" | "token_exchange" | null;
  /** The access token is DPoP-bound: it is useless without this client's key. */
  dpopBound: boolean;
}

export type LoginResult = ({ redirected: false } & TokenInfo) | { redirected: true };

export interface AuthorizationRequest {
  authorizationUrl: string;
  redirectUri: string;
  state: string;
  identity: string;
}

export interface TokenStatus {
  identity: string;
  /** The resource the tokens are for (tokens are stored per resource inside an identity). */
  resource: string | null;
  present: boolean;
  expired: boolean;
  expiresAt: number | null;
  scope: string | null;
  issuer: string | null;
  hasRefreshToken: boolean;
  /** The grant that obtained the tokens when it was not the browser login. */
  flow: "client_credentials" | "jwt_bearer" | "token_exchange" | null;
  /** The access token is DPoP-bound (RFC 9449). */
  dpopBound: boolean;
  /** Set when the record exists but cannot be read. */
  problem: string | null;
}

export interface LogoutReport {
  identity: string;
  revoked: string[];
  revocationNotes: string[];
  deletedKeys: string[];
}

export interface AuthorizedRequest {
  method?: "GET" | "POST" | "DELETE";
  headers?: Record<string, string> | Headers | [string, string][];
  body?: string | Uint8Array | ArrayBuffer;
}

export interface AuthorizedResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
}

/** Options of `client.session()`: the login options, plus the MCP revision to speak. */
export interface SessionOptions extends LoginOptions {
  /**
   * `"auto"` (default): 2026-07-28 first, falling back as the server answers (to
   * `initialize`-based 2025-11-25 / 2025-06-18 / 2025-03-26, then to the 2024-11-05
   * HTTP+SSE transport, read through `fetch`'s streaming body). Or one revision exactly.
   */
  protocol?: "auto" | "2026-07-28" | "2025-11-25" | "2025-06-18" | "2025-03-26" | "2024-11-05";
}

/** What `discover()` tells about a server (for a legacy server: what `initialize` said). */
export interface DiscoverInfo {
  protocolVersion: string | null;
  supportedVersions?: string[];
  capabilities?: Record<string, unknown>;
  instructions?: string;
  serverInfo?: { name?: string; version?: string; [k: string]: unknown };
}

/** A tool as `tools/list` describes it. */
export interface McpTool {
  name: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
  [k: string]: unknown;
}

/** Every error thrown by this package: `code` is stable (the CLI's error codes). */
export interface McpAuthError extends Error {
  code: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "McpAuthClientOptions")]
    pub type ClientOptions;
    #[wasm_bindgen(typescript_type = "LoginOptions")]
    pub type LoginOptions;
    #[wasm_bindgen(typescript_type = "AuthorizedRequest")]
    pub type AuthorizedRequest;
    #[wasm_bindgen(typescript_type = "{ forgetClient?: boolean }")]
    pub type LogoutOptions;
    #[wasm_bindgen(typescript_type = "Promise<LoginResult>")]
    pub type LoginPromise;
    #[wasm_bindgen(typescript_type = "Promise<AuthorizationRequest>")]
    pub type BeginPromise;
    #[wasm_bindgen(typescript_type = "Promise<TokenInfo>")]
    pub type TokenInfoPromise;
    #[wasm_bindgen(typescript_type = "Promise<string>")]
    pub type StringPromise;
    #[wasm_bindgen(typescript_type = "Promise<AuthorizedResponse>")]
    pub type ResponsePromise;
    #[wasm_bindgen(typescript_type = "Promise<TokenStatus[]>")]
    pub type StatusListPromise;
    #[wasm_bindgen(typescript_type = "Promise<TokenStatus>")]
    pub type StatusPromise;
    #[wasm_bindgen(typescript_type = "SessionOptions")]
    pub type SessionOptions;
    #[wasm_bindgen(typescript_type = "Promise<McpSession>")]
    pub type SessionPromise;
    #[wasm_bindgen(typescript_type = "Promise<any>")]
    pub type AnyPromise;
    #[wasm_bindgen(typescript_type = "Promise<McpTool[]>")]
    pub type ToolsPromise;
    #[wasm_bindgen(typescript_type = "Promise<DiscoverInfo>")]
    pub type DiscoverPromise;
    #[wasm_bindgen(typescript_type = "Promise<void>")]
    pub type VoidPromise;
    #[wasm_bindgen(typescript_type = "Promise<LogoutReport>")]
    pub type LogoutPromise;
}
