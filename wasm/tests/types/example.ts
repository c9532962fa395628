// Type-checked against the generated declarations (tsc --noEmit --strict, run by wasm/test.sh).
// The @ts-expect-error lines fail the check if the declarations were loose (`any`).
import {
  McpAuthClient,
  identity,
  resourceUri,
  type McpAuthStorage,
  type LoginResult,
  type TokenStatus,
  type AuthorizedResponse,
  type McpAuthError,
  type McpTool,
  type DiscoverInfo,
  McpSession,
} from "../../pkg/node/mcp_auth.js";
import initWeb, { McpAuthClient as WebClient } from "../../pkg/web/mcp_auth.js";

const map = new Map<string, string>();
const storage: McpAuthStorage = {
  get: (k) => map.get(k),
  set: (k, v) => void map.set(k, v),
  delete: async (k) => void map.delete(k),
};

export async function example(serverUrl: string): Promise<string[]> {
  const client = new McpAuthClient({
    storage,
    redirect: async (authorizationUrl: string) => {
      const r = await fetch(authorizationUrl, { redirect: "manual" });
      return r.headers.get("location") ?? undefined;
    },
    lock: async (_name: string) => () => {},
  });
  const result: LoginResult = await client.login(serverUrl, { scope: "mcp:read" });
  if (!result.redirected) {
    const expires: number | null = result.expiresAt;
    void expires;
  }
  const token: string = await client.accessToken(serverUrl);
  void token;
  // a grant without a browser (issue 9): the options name it, the token is renewed by it
  const machine: string = await client.accessToken(serverUrl, {
    grant: "client_credentials",
    clientId: "reporting-bot",
    clientSecret: "from-the-environment",
  });
  void machine;
  if (!result.redirected) {
    const flow: "client_credentials" | "jwt_bearer" | "token_exchange" | null = result.flow;
    void flow;
  }
  const resp: AuthorizedResponse = await client.authorizedFetch(serverUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  const status: number = resp.status;
  void status;
  const all: TokenStatus[] = await client.status();
  await client.logout(identity(serverUrl), { forgetClient: true });
  try {
    resourceUri("not a url");
  } catch (e) {
    const code: string = (e as McpAuthError).code;
    void code;
  }

  const session: McpSession = await client.session(serverUrl, { protocol: "auto", interactive: false });
  const tools: McpTool[] = await session.listTools();
  const names: string[] = tools.map((t) => t.name);
  void names;
  const info: DiscoverInfo = await session.discover();
  const spoken: string | undefined = info.protocolVersion ?? session.protocolVersion;
  void spoken;
  const called: unknown = await session.callTool("echo", { text: "hi" });
  void called;
  await session.request("tools/list", {});
  await session.close();
  // @ts-expect-error the protocol is a known revision or "auto"
  await client.session(serverUrl, { protocol: "1999-01-01" });
  // @ts-expect-error listTools resolves to tools, not a string
  const notTools: string = await session.listTools();
  void notTools;

  // @ts-expect-error storage is required
  new McpAuthClient({ redirect: () => undefined });
  // @ts-expect-error login resolves to an object, not a string
  const wrong: string = await client.login(serverUrl);
  void wrong;
  // @ts-expect-error methods are GET, POST or DELETE
  await client.authorizedFetch(serverUrl, { method: "PATCH" });

  await initWeb();
  const web = new WebClient({ storage, redirect: (url) => void location.assign(url) });
  await web.completeLogin(location.href);
  return all.map((s) => s.identity);
}

// The Redis store for Node workers (pkg/node/redis_store.d.ts) plugs into the same options.
import { redisStore, type RedisStore } from "../../pkg/node/redis_store.js";

export async function redisWorker(client: unknown, serverUrl: string): Promise<string> {
  const store: RedisStore = redisStore({ client, prefix: "fleet-a:", leaseMs: 6000 });
  const auth = new McpAuthClient({ storage: store.storage, lock: store.lock });
  const token: string = await auth.accessToken(serverUrl);
  await store.settled();
  // @ts-expect-error the client is required
  redisStore({});
  return token;
}
