import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { REPO_ROOT } from './cli.js';

// A STAND-IN FOR GITHUB. github.com cannot be reached from here (and a test must not depend on it), so this
// is a small HTTPS server on 127.0.0.1 that answers the calls Latchkey's `github` connector makes, with the
// request and response shapes GitHub documents — not a real GitHub, and only as faithful as those documents:
//
//  * the OAuth web flow — "Authorizing OAuth apps" (docs.github.com/en/apps/oauth-apps/building-oauth-apps/
//    authorizing-oauth-apps): GET /login/oauth/authorize (client_id, redirect_uri, scope, state, login,
//    code_challenge/_method) redirecting back with code and state, or error=access_denied /
//    redirect_uri_mismatch; POST /login/oauth/access_token (form in; JSON out when Accept asks for it,
//    form-encoded otherwise; errors such as bad_verification_code and incorrect_client_credentials answered
//    with status 200 as GitHub does); for GitHub Apps' expiring tokens ("Refreshing user access tokens")
//    expires_in, refresh_token and grant_type=refresh_token / bad_refresh_token;
//  * the REST API (docs.github.com/en/rest, version 2022-11-28): GET /user ("Get the authenticated user"),
//    /user/emails ("List email addresses for the authenticated user"), /user/orgs ("List organizations for
//    the authenticated user"), /user/teams ("List teams for the authenticated user"), with `Authorization:
//    Bearer|token <token>` checked (401 "Requires authentication" / "Bad credentials") and "Using pagination
//    in the REST API": per_page (default 30, max 100), page, and a Link header with rel="next"/"last"/
//    "first"/"prev".
//
// Both layouts are served on the one port: a GitHub Enterprise host (web at /, API under /api/v3 — what the
// connector uses with hostName: 127.0.0.1:<port>) and github.com's (API at the root, as api.github.com).
// Its certificate comes from scripts/gencert.sh; `caFile` is what a connector's rootCA names. There is no
// login page: the browser's visit to /login/oauth/authorize signs in as the user the test set in `loginAs`.

export interface StandinEmail {
  email: string;
  primary: boolean;
  verified: boolean;
  visibility?: 'public' | 'private' | null;
}

export interface StandinTeam {
  /** The login of the team's organization. */
  org: string;
  name: string;
  slug: string;
}

export interface StandinUser {
  id: number;
  login: string;
  name: string | null;
  /** The public email of GET /user; null when the user keeps every address private. */
  email: string | null;
  emails: StandinEmail[];
  /** Organization logins the user is a member of. */
  orgs: string[];
  teams: StandinTeam[];
}

export interface StandinApp {
  clientID: string;
  clientSecret: string;
  /** The app's registered callback URL; a redirect_uri must equal it or lie below it (GitHub's rule). */
  callbackURL?: string;
}

interface IssuedCode {
  clientID: string;
  redirectURI: string | undefined;
  /** Tokens belong to the account (its id), not to its login, which the user may rename. */
  userID: number;
  scopes: string[];
  challenge: string | undefined;
  expiresAt: number;
}

interface IssuedToken {
  userID: number;
  clientID: string;
  scopes: string[];
  live: boolean;
}

export interface GitHubStandin {
  /** `127.0.0.1:<port>`: the connector's hostName. */
  host: string;
  /** `https://127.0.0.1:<port>` (web flow), and the Enterprise API root `…/api/v3`. */
  webURL: string;
  apiURL: string;
  /** PEM of the CA that signed the stand-in's certificate, and its file (for rootCA). */
  ca: string;
  caFile: string;
  apps: Map<string, StandinApp>;
  /** By login; edit freely (teams, orgs, emails): the next API call sees it. */
  users: Map<string, StandinUser>;
  /** Adds a user (id assigned unless given) and returns it. */
  addUser(user: Partial<StandinUser> & { login: string }): StandinUser;
  /** Whom the authorize page signs in as; undefined = the user clicks "Cancel" (error=access_denied). */
  loginAs: string | undefined;
  /** Caps per_page, so a test sees several pages with few items; undefined = GitHub's limits. */
  pageSize: number | undefined;
  /** Issue GitHub App-style expiring access tokens with refresh tokens (seconds to expiry). */
  expiringTokens: { expiresIn: number } | undefined;
  /** The origin written into Link headers for root-layout (api.github.com) requests; default webURL. */
  rootLayoutOrigin: string;
  /** Every route but the browser's authorize page answers this status (a GitHub outage); undefined = none. */
  outage: number | undefined;
  /** Runs first; return true after answering `res` yourself. */
  intercept: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  /** The query of every authorize visit, in order. */
  authorizations: URLSearchParams[];
  /** The form of every token request, in order (client_secret removed). */
  tokenRequests: URLSearchParams[];
  /** Every API call (path with query), in order. */
  apiCalls: { path: string; token: string | undefined }[];
  /** Live access tokens issued to a user. */
  tokensOf(login: string): string[];
  /** What "Revoke access" on GitHub does: every token of the user stops working. */
  revokeTokensOf(login: string): void;
  /** The browser's visit to the authorize page (any origin: only path and query are used): the redirect. */
  visit(url: string): Promise<string>;
  /** Stops listening and removes the certificate files; safe to call twice. */
  stop(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, (err, _out, stderr) => (err ? reject(new Error(`${cmd}: ${stderr}`)) : resolve())),
  );
}

export async function startGitHubStandin(opts: { apps: StandinApp[] }): Promise<GitHubStandin> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-github-standin-'));
  await run('bash', [join(REPO_ROOT, 'scripts/gencert.sh'), '--ip', '127.0.0.1', '--out', dir]);
  const [ca, cert, key] = await Promise.all(
    ['ca.pem', 'cert.pem', 'key.pem'].map((f) => readFile(join(dir, f), 'utf8')),
  );
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, IssuedToken>();
  const refreshTokens = new Map<string, Omit<IssuedToken, 'live'>>();
  const ids = new Map<string, number>();
  const idOf = (kind: string, name: string) => {
    const k = `${kind}:${name.toLowerCase()}`;
    if (!ids.has(k)) ids.set(k, 1000 + ids.size);
    return ids.get(k)!;
  };

  const self = {} as GitHubStandin;
  const server: Server = createServer({ cert: cert!, key: key! }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) json(res, 500, { message: `stand-in failure: ${String(e)}` });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (self.intercept?.(req, res)) return;
    const url = new URL(req.url ?? '/', self.webURL);
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') return authorize(url, res);
    if (self.outage !== undefined) {
      return json(res, self.outage, { message: 'Server Error (stand-in outage)', documentation_url: DOCS });
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      return accessToken(req, url, res);
    }
    if (url.pathname === '/api/v3' || url.pathname.startsWith('/api/v3/')) {
      return api(req, res, url, url.pathname.slice('/api/v3'.length), `https://${req.headers.host}/api/v3`);
    }
    return api(req, res, url, url.pathname, self.rootLayoutOrigin);
  }

  function authorize(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    self.authorizations.push(new URLSearchParams(q));
    const app = self.apps.get(q.get('client_id') ?? '');
    // GitHub shows a 404 page for an unknown client_id.
    if (!app) return text(res, 404, 'Not Found');
    const state = q.get('state');
    const back = (to: string, params: Record<string, string>) => {
      const target = new URL(to);
      for (const [k, v] of Object.entries(params)) target.searchParams.append(k, v);
      if (state !== null) target.searchParams.append('state', state);
      res.writeHead(302, { location: target.toString() }).end();
    };
    const redirectURI = q.get('redirect_uri') ?? undefined;
    if (redirectURI !== undefined && app.callbackURL !== undefined && !under(redirectURI, app.callbackURL)) {
      return back(app.callbackURL, {
        error: 'redirect_uri_mismatch',
        error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
      });
    }
    const target = redirectURI ?? app.callbackURL;
    if (target === undefined) return text(res, 400, 'no redirect_uri and no registered callback URL');
    const user = self.loginAs === undefined ? undefined : self.users.get(self.loginAs);
    if (!user) {
      return back(target, {
        error: 'access_denied',
        error_description: 'The user has denied your application access.',
        error_uri:
          'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied',
      });
    }
    const method = q.get('code_challenge_method');
    if (q.has('code_challenge') && method !== null && method !== 'S256') {
      return text(res, 400, 'code_challenge_method must be S256');
    }
    const code = randomBytes(10).toString('hex');
    codes.set(code, {
      clientID: app.clientID,
      redirectURI,
      userID: user.id,
      scopes: (q.get('scope') ?? '').split(/[\s,]+/).filter(Boolean),
      challenge: q.get('code_challenge') ?? undefined,
      // GitHub: "codes expire after 10 minutes".
      expiresAt: Date.now() + 10 * 60_000,
    });
    back(target, { code });
  }

  async function accessToken(req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
    const raw = await body(req);
    const form = new URLSearchParams(url.search);
    const type = req.headers['content-type'] ?? '';
    const fields = type.includes('json')
      ? Object.entries(JSON.parse(raw || '{}') as Record<string, string>)
      : [...new URLSearchParams(raw)];
    for (const [k, v] of fields) form.set(k, String(v));
    const recorded = new URLSearchParams(form);
    recorded.delete('client_secret');
    self.tokenRequests.push(recorded);

    const accept = req.headers.accept ?? '';
    const answer = (payload: Record<string, string | number>) => {
      if (accept.includes('application/json')) return json(res, 200, payload);
      const encoded = new URLSearchParams(
        Object.entries(payload).map(([k, v]): [string, string] => [k, String(v)]),
      );
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
      res.end(encoded.toString());
    };
    const error = (code: string, description: string) =>
      answer({
        error: code,
        error_description: description,
        error_uri: `https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#${code.replaceAll('_', '-')}`,
      });

    const app = self.apps.get(form.get('client_id') ?? '');
    if (!app || form.get('client_secret') !== app.clientSecret) {
      return error(
        'incorrect_client_credentials',
        'The client_id and/or client_secret passed are incorrect.',
      );
    }
    if (form.get('grant_type') === 'refresh_token') {
      const held = refreshTokens.get(form.get('refresh_token') ?? '');
      if (!held || held.clientID !== app.clientID) {
        return error('bad_refresh_token', 'The refresh token passed is incorrect or expired.');
      }
      refreshTokens.delete(form.get('refresh_token')!);
      return answer(issue(held));
    }
    const code = codes.get(form.get('code') ?? '');
    codes.delete(form.get('code') ?? '');
    if (!code || code.clientID !== app.clientID || code.expiresAt < Date.now()) {
      return error('bad_verification_code', 'The code passed is incorrect or expired.');
    }
    const redirectURI = form.get('redirect_uri');
    if (redirectURI !== null && code.redirectURI !== undefined && redirectURI !== code.redirectURI) {
      return error(
        'redirect_uri_mismatch',
        'The redirect_uri MUST match the registered callback URL for this application.',
      );
    }
    if (code.challenge !== undefined) {
      const verifier = form.get('code_verifier') ?? '';
      const digest = createHash('sha256').update(verifier).digest('base64url');
      // The stand-in's choice of error for a failed PKCE check: GitHub's documented one for a code it will
      // not redeem.
      if (digest !== code.challenge) {
        return error('bad_verification_code', 'The code passed is incorrect or expired.');
      }
    }
    return answer(issue({ userID: code.userID, clientID: app.clientID, scopes: code.scopes }));
  }

  function issue(grant: Omit<IssuedToken, 'live'>): Record<string, string | number> {
    const expiring = self.expiringTokens;
    const accessToken = `${expiring ? 'ghu' : 'gho'}_${randomBytes(18).toString('base64url')}`;
    tokens.set(accessToken, { ...grant, live: true });
    const payload: Record<string, string | number> = {
      access_token: accessToken,
      token_type: 'bearer',
      scope: grant.scopes.join(','),
    };
    if (expiring) {
      const refreshToken = `ghr_${randomBytes(30).toString('base64url')}`;
      refreshTokens.set(refreshToken, grant);
      Object.assign(payload, {
        expires_in: expiring.expiresIn,
        refresh_token: refreshToken,
        refresh_token_expires_in: 15_811_200,
      });
    }
    return payload;
  }

  function api(req: IncomingMessage, res: ServerResponse, url: URL, path: string, base: string): void {
    const header = req.headers.authorization;
    const token = /^(?:bearer|token)\s+(\S+)$/i.exec(header ?? '')?.[1];
    self.apiCalls.push({ path: `${path}${url.search}`, token });
    if (req.method !== 'GET') return json(res, 404, { message: 'Not Found', documentation_url: DOCS });
    if (token === undefined) {
      return json(res, 401, { message: 'Requires authentication', documentation_url: DOCS });
    }
    const grant = tokens.get(token);
    const user = grant?.live ? [...self.users.values()].find((u) => u.id === grant.userID) : undefined;
    if (!grant || !user) {
      return json(res, 401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });
    }
    const scoped = (s: string) => grant.scopes.includes(s);
    switch (path) {
      case '/user':
        return json(res, 200, userJSON(user, base));
      case '/user/emails':
        if (!scoped('user:email') && !scoped('user')) {
          return json(res, 404, { message: 'Not Found', documentation_url: DOCS });
        }
        return page(
          res,
          url,
          `${base}${path}`,
          user.emails.map((e) => ({ visibility: null, ...e })),
        );
      case '/user/orgs':
        // Without read:org only public memberships are listed; the stand-in treats every one as private.
        return page(
          res,
          url,
          `${base}${path}`,
          scoped('read:org') ? user.orgs.map((o) => orgJSON(o, base)) : [],
        );
      case '/user/teams':
        if (!scoped('read:org') && !scoped('user') && !scoped('repo')) {
          return json(res, 403, {
            message: 'Resource not accessible (stand-in: read:org missing)',
            documentation_url: DOCS,
          });
        }
        return page(
          res,
          url,
          `${base}${path}`,
          user.teams.map((t) => teamJSON(t, base)),
        );
      default:
        return json(res, 404, { message: 'Not Found', documentation_url: DOCS });
    }
  }

  /** One page of a list, with GitHub's Link header when there are several. */
  function page(res: ServerResponse, url: URL, endpoint: string, items: unknown[]): void {
    const asked = Number(url.searchParams.get('per_page') ?? 30);
    const perPage = Math.max(1, Math.min(Number.isFinite(asked) ? asked : 30, 100, self.pageSize ?? 100));
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const current = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const link = (n: number, rel: string) => {
      const target = new URL(endpoint);
      target.searchParams.set('per_page', String(url.searchParams.get('per_page') ?? perPage));
      target.searchParams.set('page', String(n));
      return `<${target.toString()}>; rel="${rel}"`;
    };
    const links = [
      ...(current > 1 ? [link(current - 1, 'prev')] : []),
      ...(current < last ? [link(current + 1, 'next'), link(last, 'last')] : []),
      ...(current > 1 ? [link(1, 'first')] : []),
    ];
    json(
      res,
      200,
      items.slice((current - 1) * perPage, current * perPage),
      links.length ? { link: links.join(', ') } : {},
    );
  }

  const userJSON = (u: StandinUser, base: string) => ({
    login: u.login,
    id: u.id,
    node_id: `U_${u.id}`,
    avatar_url: `${self.webURL}/avatars/${u.login}`,
    url: `${base}/users/${u.login}`,
    html_url: `${self.webURL}/${u.login}`,
    type: 'User',
    site_admin: false,
    name: u.name,
    company: null,
    blog: '',
    location: null,
    email: u.email,
    hireable: null,
    bio: null,
    public_repos: 0,
    followers: 0,
    following: 0,
    created_at: '2011-01-25T18:44:36Z',
    updated_at: '2024-01-01T00:00:00Z',
  });

  const orgJSON = (login: string, base: string) => ({
    login,
    id: idOf('org', login),
    node_id: `O_${idOf('org', login)}`,
    url: `${base}/orgs/${login}`,
    repos_url: `${base}/orgs/${login}/repos`,
    events_url: `${base}/orgs/${login}/events`,
    hooks_url: `${base}/orgs/${login}/hooks`,
    issues_url: `${base}/orgs/${login}/issues`,
    members_url: `${base}/orgs/${login}/members{/member}`,
    public_members_url: `${base}/orgs/${login}/public_members{/member}`,
    avatar_url: `${self.webURL}/avatars/${login}`,
    description: null,
  });

  const teamJSON = (t: StandinTeam, base: string) => {
    const id = idOf('team', `${t.org}/${t.slug}`);
    return {
      id,
      node_id: `T_${id}`,
      url: `${base}/teams/${id}`,
      html_url: `${self.webURL}/orgs/${t.org}/teams/${t.slug}`,
      name: t.name,
      slug: t.slug,
      description: null,
      privacy: 'closed',
      notification_setting: 'notifications_enabled',
      permission: 'pull',
      members_url: `${base}/teams/${id}/members{/member}`,
      repositories_url: `${base}/teams/${id}/repos`,
      parent: null,
      members_count: 1,
      repos_count: 0,
      created_at: '2020-01-01T00:00:00Z',
      updated_at: '2024-01-01T00:00:00Z',
      organization: { ...orgJSON(t.org, base), name: t.org, type: 'Organization' },
    };
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const webURL = `https://127.0.0.1:${port}`;
  const agent = new Agent({ connect: { ca } });
  let stopped: Promise<void> | undefined;

  Object.assign(self, {
    host: `127.0.0.1:${port}`,
    webURL,
    apiURL: `${webURL}/api/v3`,
    ca,
    caFile: join(dir, 'ca.pem'),
    apps: new Map(opts.apps.map((a) => [a.clientID, a])),
    users: new Map<string, StandinUser>(),
    addUser(user: Partial<StandinUser> & { login: string }): StandinUser {
      const full: StandinUser = {
        id: idOf('user', user.login),
        name: null,
        email: null,
        emails: [],
        orgs: [],
        teams: [],
        ...user,
      };
      self.users.set(full.login, full);
      return full;
    },
    loginAs: undefined,
    pageSize: undefined,
    expiringTokens: undefined,
    rootLayoutOrigin: webURL,
    outage: undefined,
    intercept: undefined,
    authorizations: [],
    tokenRequests: [],
    apiCalls: [],
    tokensOf: (login: string) => {
      const id = self.users.get(login)?.id;
      return [...tokens].filter(([, t]) => t.live && t.userID === id).map(([k]) => k);
    },
    revokeTokensOf(login: string) {
      const id = self.users.get(login)?.id;
      for (const t of tokens.values()) if (t.userID === id) t.live = false;
      for (const [k, t] of refreshTokens) if (t.userID === id) refreshTokens.delete(k);
    },
    async visit(to: string): Promise<string> {
      const u = new URL(to);
      const res = await undiciFetch(`${webURL}${u.pathname}${u.search}`, {
        redirect: 'manual',
        dispatcher: agent,
      });
      const answer = await res.text();
      const location = res.headers.get('location');
      if (location === null)
        throw new Error(`GitHub stand-in answered ${res.status} at ${u.pathname}: ${answer}`);
      return location;
    },
    stop() {
      // Idempotent: a test may take GitHub down itself before afterAll stops it.
      stopped ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await agent.close();
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  });
  return self;
}

/** GitHub's redirect_uri rule: same scheme, host and port as the callback URL, path equal or below it. */
function under(redirectURI: string, callbackURL: string): boolean {
  try {
    const r = new URL(redirectURI);
    const c = new URL(callbackURL);
    const base = c.pathname.endsWith('/') ? c.pathname : `${c.pathname}/`;
    return r.origin === c.origin && (r.pathname === c.pathname || r.pathname.startsWith(base));
  } catch {
    return false;
  }
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (data += chunk));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function json(
  res: ServerResponse,
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'x-github-media-type': 'github.v3; format=json',
    ...headers,
  });
  res.end(JSON.stringify(payload));
}

function text(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(message);
}
