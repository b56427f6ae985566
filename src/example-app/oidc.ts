import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { httpClientFactory } from '../connectors/http.js';

export interface RelyingPartyOptions {
  issuer: string;
  clientID: string;
  /** Empty for a public client (then only PKCE protects the code). */
  clientSecret: string;
  /** PEM certificates trusted for the issuer, besides the system's (`--issuer-root-ca`). */
  issuerRootCA?: string;
}

/** Every request to the issuer gives up after this long: a hung issuer must not hang a page. */
const ISSUER_TIMEOUT_MS = 15_000;

/**
 * Discovers the issuer (its metadata and JWKS location) as openid-client's relying party. A plain `http://`
 * issuer is allowed, as in Dex's example app: this program is for local trials and for tests.
 */
export async function discoverIssuer(opts: RelyingPartyOptions): Promise<oidc.Configuration> {
  // The same client Latchkey's connectors use towards their upstreams: extra root CA, per-request deadline.
  const customFetch: oidc.CustomFetch = httpClientFactory({
    signal: new AbortController().signal,
    timeoutMs: ISSUER_TIMEOUT_MS,
  })(opts.issuerRootCA ? { rootCAs: [opts.issuerRootCA] } : {});
  const clientAuth = opts.clientSecret ? oidc.ClientSecretBasic(opts.clientSecret) : oidc.None();
  return oidc.discovery(new URL(opts.issuer), opts.clientID, undefined, clientAuth, {
    [oidc.customFetch]: customFetch,
    ...(new URL(opts.issuer).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
  });
}

/** The ID token's claims, decoded (openid-client has verified the token by the time this is called). */
export function decodeClaims(idToken: string): Record<string, unknown> {
  return decodeJwt(idToken);
}

/** The scope parameter for a login: openid first, then the rest without duplicates. */
export function scopeParameter(scopes: string[], crossClients: string[]): string {
  const all = ['openid', ...scopes, ...crossClients.map((id) => `audience:server:client_id:${id}`)];
  return [...new Set(all.filter((s) => s !== ''))].join(' ');
}

/** A kubeconfig `users` entry that presents the ID token as a bearer token (seed §2). */
export function kubeconfigUser(name: string, idToken: string): string {
  return `users:\n- name: ${JSON.stringify(name)}\n  user:\n    token: ${idToken}\n`;
}

/** An error from openid-client with the issuer's own words when there are some. */
export function describeError(e: unknown): string {
  const err = e as { error?: unknown; error_description?: unknown; message?: unknown };
  if (typeof err.error === 'string') {
    return `${err.error}${typeof err.error_description === 'string' ? ` (${err.error_description})` : ''}`;
  }
  // fetch's own message ("fetch failed") says nothing: the reason (ECONNREFUSED, a certificate error) is
  // in its cause.
  const cause = (e as { cause?: { message?: unknown; code?: unknown } }).cause;
  const reason = typeof cause?.message === 'string' && cause.message !== '' ? `: ${cause.message}` : '';
  return `${String(err.message ?? e)}${reason}`;
}
