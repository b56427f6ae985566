import { Liquid } from 'liquidjs';
import type { ReceivedLogout } from './backchannel.js';
import { kubeconfigUser } from './oidc.js';

// The example app's pages: LiquidJS (Latchkey's template engine) with every output escaped.

/** Served at /static/app.css: the pages carry no inline style (their CSP forbids it). */
export const APP_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f4f6f8; --surface: #fff; --text: #1b1f24; --subtle: #505a66; --border: #7a8594;
  --primary: #1d4ed8; --on-primary: #fff; --error-bg: #fdecee; --error-text: #9b1c2c; --focus: #b45309;
  --code-bg: #eef1f4;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --surface: #161b22; --text: #e6edf3; --subtle: #a5b0bc; --border: #6e7a88;
    --primary: #2563eb; --on-primary: #fff; --error-bg: #3b1219; --error-text: #ffb3bd; --focus: #f0b429;
    --code-bg: #0d1117;
  }
}
*, *::before, *::after { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text); line-height: 1.5;
  font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
}
main { max-width: 52rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.125rem; margin: 1.5rem 0 0.5rem; }
a { color: var(--primary); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.panel { background: var(--surface); border: 1px solid var(--border); border-radius: 6px; padding: 1.25rem; }
.subtle { color: var(--subtle); }
fieldset { border: 1px solid var(--border); border-radius: 6px; margin: 0 0 1rem; padding: 0.75rem 1rem; }
legend { font-weight: 600; padding: 0 0.25rem; }
.checks { display: flex; flex-wrap: wrap; gap: 0.5rem 1.25rem; }
.checks label { display: inline-flex; align-items: center; gap: 0.375rem; }
.row { margin-bottom: 1rem; }
.row > label { display: block; font-weight: 600; margin-bottom: 0.25rem; }
input[type='text'] {
  width: 100%; min-height: 2.75rem; padding: 0.5rem 0.75rem; font: inherit; color: var(--text);
  background: var(--surface); border: 1px solid var(--border); border-radius: 6px;
}
.hint { font-size: 0.875rem; color: var(--subtle); margin: 0.25rem 0 0; }
button {
  min-height: 2.75rem; padding: 0.5rem 1.25rem; font: inherit; font-weight: 600; cursor: pointer;
  background: var(--primary); color: var(--on-primary); border: 1px solid transparent; border-radius: 6px;
}
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace; }
pre {
  margin: 0; padding: 0.75rem; background: var(--code-bg); border: 1px solid var(--border); border-radius: 6px;
  white-space: pre-wrap; word-break: break-all; font-size: 0.8125rem;
}
.error { background: var(--error-bg); color: var(--error-text); border-radius: 6px; padding: 0.75rem 1rem; overflow-wrap: anywhere; }
.actions { margin-top: 0.75rem; }
.notice {
  background: var(--surface); border: 1px solid var(--border); border-left: 4px solid var(--primary);
  border-radius: 6px; padding: 0.75rem 1rem;
}
.logouts { padding-left: 1.25rem; overflow-wrap: anywhere; }
`;

const liquid = new Liquid({ outputEscape: 'escape', strictFilters: true });

const LAYOUT = liquid.parse(`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>{{ title }} · Example App</title>
    <link rel="stylesheet" href="/static/app.css" />
  </head>
  <body>
    <main>{{ body | raw }}</main>
  </body>
</html>
`);

function render(title: string, template: ReturnType<Liquid['parse']>, data: object): string {
  const body = liquid.renderSync(template, data) as string;
  return liquid.renderSync(LAYOUT, { title, body }) as string;
}

const START = liquid.parse(`<h1>Example App</h1>
{%- if loggedOut %}
<p class="notice" role="status" id="logged-out">You have been logged out.</p>
{%- endif %}
<p>
  Logs you in through <code>{{ issuer }}</code> as the client <code>{{ clientID }}</code>, then shows the
  tokens it got.
</p>
<form class="panel" method="post" action="/login">
  <fieldset>
    <legend>Scopes</legend>
    <div class="checks">
      {%- for s in scopes %}
      <label><input type="checkbox" name="scope" value="{{ s.name }}"{% if s.checked %} checked{% endif %} />
        {{ s.name }}</label>
      {%- endfor %}
    </div>
  </fieldset>
  <div class="row">
    <label for="extra_scopes">Extra scopes</label>
    <input type="text" id="extra_scopes" name="extra_scopes" aria-describedby="extra_scopes_hint" />
    <p class="hint" id="extra_scopes_hint">Space-separated, sent as they are.</p>
  </div>
  <div class="row">
    <label for="cross_client">Cross-client audiences</label>
    <input type="text" id="cross_client" name="cross_client" value="{{ crossClients | join: ' ' }}"
      aria-describedby="cross_client_hint" />
    <p class="hint" id="cross_client_hint">
      Client IDs, space-separated, each requested as <code>audience:server:client_id:ID</code>: the ID
      token is also meant for them (<code>kubernetes</code> for a kube-apiserver started with
      <code>--oidc-client-id=kubernetes</code>). Each must list this client in its trustedPeers.
    </p>
  </div>
  <div class="row">
    <label for="connector_id">Connector ID</label>
    <input type="text" id="connector_id" name="connector_id" aria-describedby="connector_id_hint" />
    <p class="hint" id="connector_id_hint">Optional: skips the choice of login method.</p>
  </div>
  <button type="submit" id="login">Login</button>
</form>
<p class="subtle">
  Without a browser on this machine: <code>latchkey example-app --device</code> prints a code to confirm
  from any device.
</p>
{%- if backchannel %}
<h2 id="backchannel-heading">Back-channel logouts received</h2>
<p class="hint">
  When a session this app took part in ends, the issuer posts a logout token to
  <code>{{ backchannel.uri }}</code>; the last ones accepted are listed here, newest first.
</p>
{%- if backchannel.received.size > 0 %}
<ul class="logouts" id="backchannel-logouts" aria-labelledby="backchannel-heading">
  {%- for l in backchannel.received %}
  <li><time datetime="{{ l.at }}">{{ l.at }}</time>: session <code>{{ l.sid | default: '(none)' }}</code>,
    subject <code>{{ l.sub | default: '(none)' }}</code></li>
  {%- endfor %}
</ul>
{%- else %}
<p class="subtle" id="backchannel-logouts">None yet.</p>
{%- endif %}
{%- endif %}`);

export interface StartPageData {
  issuer: string;
  clientID: string;
  /** Scopes offered as checkboxes (the issuer's, openid excepted), and which of them are ticked. */
  scopes: { name: string; checked: boolean }[];
  crossClients: string[];
  /** Back from the issuer's logout with the state this browser's logout started. */
  loggedOut?: boolean;
  /** Shown when the issuer supports back-channel logout (or has used it): where, and the last received. */
  backchannel?: { uri: string; received: readonly ReceivedLogout[] };
}

export function startPage(d: StartPageData): string {
  const backchannel = d.backchannel && {
    uri: d.backchannel.uri,
    received: d.backchannel.received.map((l) => ({ ...l, at: l.receivedAt.toISOString() })),
  };
  return render('Log in', START, { ...d, backchannel });
}

const TOKENS = liquid.parse(`<h1>Logged in as {{ who }}</h1>
{%- if logout %}
<form method="post" action="{{ logout.action }}">
  <input type="hidden" name="id_token" value="{{ idToken }}" />
  <input type="hidden" name="csrf_token" value="{{ logout.csrfToken }}" />
  <button type="submit" id="logout">Log out</button>
</form>
{%- endif %}
<h2 id="claims-heading">Claims</h2>
<pre id="claims" aria-labelledby="claims-heading">{{ claims }}</pre>
<h2 id="id-token-heading">ID token</h2>
<pre id="id-token" aria-labelledby="id-token-heading">{{ idToken }}</pre>
<h2 id="access-token-heading">Access token</h2>
<pre id="access-token" aria-labelledby="access-token-heading">{{ accessToken }}</pre>
<h2 id="refresh-token-heading">Refresh token</h2>
{%- if refreshToken %}
<pre id="refresh-token" aria-labelledby="refresh-token-heading">{{ refreshToken }}</pre>
<form class="actions" method="post" action="{{ refreshAction }}">
  <input type="hidden" name="refresh_token" value="{{ refreshToken }}" />
  <button type="submit" id="refresh">Refresh</button>
</form>
{%- else %}
<p class="subtle" id="refresh-token">None: ask for the <code>offline_access</code> scope.</p>
{%- endif %}
<h2 id="kubeconfig-heading">kubeconfig</h2>
<p>
  A user entry for <code>~/.kube/config</code> (or <code>kubectl --token=…</code>): the API server
  accepts the ID token when its <code>--oidc-client-id</code> is in the token's <code>aud</code>.
</p>
<pre id="kubeconfig" aria-labelledby="kubeconfig-heading">{{ kubeconfig }}</pre>
<p class="actions"><a href="/">Log in again</a></p>`);

export interface TokenPageData {
  idToken: string;
  accessToken: string;
  refreshToken?: string;
  claims: Record<string, unknown>;
  /** Where the Refresh form posts (the callback path, as in Dex's example app). */
  refreshAction: string;
  /** The Log out form (only when the issuer has an end_session_endpoint): where it posts, its CSRF token. */
  logout?: { action: string; csrfToken: string };
}

export function tokenPage(d: TokenPageData): string {
  const who = String(d.claims.email ?? d.claims.name ?? d.claims.sub ?? 'unknown');
  return render('Tokens', TOKENS, {
    ...d,
    who,
    claims: JSON.stringify(d.claims, null, 2),
    kubeconfig: kubeconfigUser(who, d.idToken),
  });
}

const ERROR = liquid.parse(`<h1>{{ title }}</h1>
<p class="error" role="alert" id="error">{{ message }}</p>
<p><a href="/">Back to the start</a></p>`);

export function errorPage(title: string, message: string): string {
  return render(title, ERROR, { title, message });
}
