// The web demo: logs in to an MCP server with a full-page redirect, then lists its tools.
import init, { McpAuthClient, identity } from "./pkg/mcp_auth.js";

const $ = (id) => document.getElementById(id);
const SERVER_KEY = "mcp-auth-demo:server";
const PREFIX = "mcp-auth:";

// The records (tokens, client registration, the pending login) live in localStorage, so the
// pending login survives the trip to the authorization server and the session a reload.
const storage = {
  get: (key) => localStorage.getItem(PREFIX + key),
  set: (key, value) => localStorage.setItem(PREFIX + key, value),
  delete: (key) => localStorage.removeItem(PREFIX + key),
};

function show(state, error = "") {
  $("state").textContent = state;
  $("error").textContent = error;
}

function fail(what, e) {
  console.error(what, e);
  show("", `${what}: ${e.message}${e.code ? ` (${e.code})` : ""}`);
}

async function showSession(client, serverUrl) {
  const st = await client.tokenStatus(serverUrl);
  if (!st.present) {
    $("session").hidden = true;
    show("Not logged in.");
    return;
  }
  $("identity").textContent = st.identity;
  $("scopes").textContent = st.scope ?? "(none granted explicitly)";
  $("expiry").textContent = st.expiresAt
    ? `${new Date(st.expiresAt * 1000).toLocaleString()}${st.expired ? " (expired, will refresh)" : ""}`
    : "no expiry given";
  $("refresh").textContent = st.hasRefreshToken ? "yes" : "no";
  $("session").hidden = false;
  show("Logged in. Fetching the tool list…");

  // core speaks MCP (2026-07-28 first, older revisions as the server answers); the page
  // only asks for the tools and shows which revision was spoken.
  const session = await client.session(serverUrl);
  const tools = await session.listTools();
  $("protocol").textContent = session.protocolVersion ?? "?";
  await session.close();
  const ul = $("tools");
  ul.replaceChildren(
    ...tools.map((t) => {
      const li = document.createElement("li");
      li.dataset.tool = t.name;
      const name = document.createElement("code");
      name.textContent = t.name;
      li.append(name, ` — ${t.description ?? ""}`);
      return li;
    }),
  );
  show(`Logged in. ${tools.length} tools (MCP ${session.protocolVersion}).`);
}

async function main() {
  await init();
  const client = new McpAuthClient({
    storage,
    // Full-page redirect: navigate away; the page calls completeLogin when it comes back.
    redirect: (authorizationUrl) => {
      location.assign(authorizationUrl);
      return undefined;
    },
    redirectUri: location.origin + location.pathname,
    // Tabs of this origin share the tokens; a Web Lock keeps two of them from spending the
    // same refresh token at once. Resolves to the function that releases the lock.
    lock: (name) =>
      new Promise((held, failed) => {
        navigator.locks
          .request(`mcp-auth:${name}`, () => new Promise((release) => held(release)))
          .catch(failed);
      }),
    clientName: "mcp-auth web demo",
  });
  const serverUrl = localStorage.getItem(SERVER_KEY) || `${location.origin}/mcp`;
  $("server-url").value = serverUrl;

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const url = $("server-url").value.trim();
    try {
      identity(url); // validates before anything is stored
      localStorage.setItem(SERVER_KEY, url);
      show("Redirecting to the authorization server…");
      const r = await client.login(url);
      if (!r.redirected) await showSession(client, url);
    } catch (e) {
      fail("Login failed", e);
    }
  });

  $("logout").addEventListener("click", async () => {
    const url = $("server-url").value.trim();
    try {
      const report = await client.logout(identity(url));
      $("session").hidden = true;
      $("tools").replaceChildren();
      show(`Logged out of ${report.identity}${report.revoked.length ? ` (revoked: ${report.revoked.join(", ")})` : ""}.`);
    } catch (e) {
      fail("Logout failed", e);
    }
  });

  const params = new URLSearchParams(location.search);
  if (params.has("state") && (params.has("code") || params.has("error"))) {
    const callback = location.href;
    history.replaceState(null, "", location.pathname); // the code is single-use; drop it from the URL
    try {
      show("Completing the login…");
      await client.completeLogin(callback);
    } catch (e) {
      fail("Login failed", e);
      return;
    }
  }
  try {
    await showSession(client, serverUrl);
  } catch (e) {
    if (e.code === "redirected") return; // the page is navigating to the authorization server
    fail("Could not load the session", e);
  }
}

main().catch((e) => fail("The demo could not start", e));
