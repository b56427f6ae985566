import * as oidc from 'openid-client';
import { TestBrowser, type Page } from './browser.js';

export interface LoginResult {
  callback: URL;
  verifier: string;
  nonce: string;
  state: string;
  browser: TestBrowser;
}

/**
 * Drives a browser login through Latchkey's pages (chooser → password form → approval) up to the client's
 * redirect, for a relying party configured with openid-client.
 */
export async function browserLogin(
  rp: oidc.Configuration,
  opts: {
    redirectURI: string;
    scope: string;
    connector?: string;
    username?: string;
    password?: string;
    extraParams?: Record<string, string>;
    pkce?: boolean;
    /** A browser that already holds cookies (a session); default a fresh one. */
    browser?: TestBrowser;
  },
): Promise<LoginResult> {
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(rp, {
    redirect_uri: opts.redirectURI,
    scope: opts.scope,
    ...(opts.pkce === false
      ? {}
      : { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }),
    nonce,
    state,
    ...opts.extraParams,
  });
  const browser = opts.browser ?? new TestBrowser();
  let page: Page = await browser.open(url.toString(), { stopAt: opts.redirectURI });
  const connector = opts.connector ?? 'local';
  const link = page.$(`a[href*="/auth/${connector}?"]`).attr('href');
  if (link) page = await browser.open(new URL(link, page.url).toString(), { stopAt: opts.redirectURI });
  if (page.$('input[name=password]').length > 0) {
    page = await browser.submit(
      page,
      { login: opts.username ?? 'admin@example.com', password: opts.password ?? 'password' },
      { stopAt: opts.redirectURI },
    );
  }
  if (page.$('button[name=approval]').length > 0) {
    page = await browser.submit(
      page,
      {},
      { button: { name: 'approval', value: 'approve' }, stopAt: opts.redirectURI },
    );
  }
  if (!page.url.startsWith(opts.redirectURI)) {
    throw new Error(
      `login did not reach the client: ${page.url} (HTTP ${page.status})\n${page.html.slice(0, 800)}`,
    );
  }
  return { callback: new URL(page.url), verifier, nonce, state, browser };
}

/** POSTs a form to `url` and returns status and JSON body (for hand-made protocol requests). */
export async function postForm(
  url: string,
  form: Record<string, string> | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    headers: res.headers,
  };
}

export function basicAuth(id: string, secret: string): Record<string, string> {
  return {
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
  };
}
