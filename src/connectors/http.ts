import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Agent, fetch as undiciFetchType } from 'undici';
import { ConnectorConfigError } from './config-keys.js';

// How connectors reach their upstreams. A connector never calls the global fetch: it is handed a client
// built for its own trust settings (extra root CAs, or none checked for insecureSkipVerify), with a deadline
// on every request and the server's shutdown signal, so a slow upstream cannot hold a login forever and
// tests substitute the whole thing without touching globals.

/** The subset of fetch connectors use; openid-client's customFetch takes the same shape. */
export type HttpFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

export interface HttpTrust {
  /** PEM certificates trusted in addition to the system's roots (Dex appends to the system pool too). */
  rootCAs?: string[];
  /** Accept any certificate (Dex's insecureSkipVerify): for tests only, said so in the log. */
  insecureSkipVerify?: boolean;
}

/** Builds the HTTP client for one connector's trust settings. */
export type HttpClientFactory = (trust: HttpTrust) => HttpFetch;

/** Per-request deadline for upstream calls: long enough for a slow token endpoint, short for a browser. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 15_000;

export function httpClientFactory(opts: { signal: AbortSignal; timeoutMs?: number }): HttpClientFactory {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
  return (trust) => {
    const custom = trust.rootCAs !== undefined && trust.rootCAs.length > 0;
    // undici loads on the first upstream call: a server without upstream connectors never needs it.
    let agent: Agent | undefined;
    return async (url, init = {}) => {
      const undici = await import('undici');
      if (agent === undefined && (custom || trust.insecureSkipVerify)) {
        agent = new undici.Agent({
          connect: {
            ...(custom ? { ca: [...rootCertificates, ...trust.rootCAs!] } : {}),
            ...(trust.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
          },
        });
      }
      const deadline = AbortSignal.timeout(timeoutMs);
      const signals = [opts.signal, deadline, ...(init.signal ? [init.signal] : [])];
      const response = await undici.fetch(url, {
        ...(init as Parameters<typeof undiciFetchType>[1]),
        signal: AbortSignal.any(signals),
        ...(agent ? { dispatcher: agent } : {}),
      });
      return response as unknown as Response;
    };
  };
}

/** Reads CA files named in a connector's config; a missing or unreadable file names its key path. */
export function readRootCAs(files: { path: string; value: string }[]): string[] {
  return files.map(({ path, value }) => {
    let pem: string;
    try {
      pem = readFileSync(value, 'utf8');
    } catch (e) {
      throw new ConnectorConfigError(path, `cannot read ${JSON.stringify(value)}: ${(e as Error).message}`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConnectorConfigError(path, `${JSON.stringify(value)} holds no PEM certificate`);
    }
    return pem;
  });
}

/** An upstream answered with an error status; `body` is kept short for logs. */
export class UpstreamHttpError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${url} answered ${status}${body ? `: ${body.slice(0, 200)}` : ''}`);
    this.name = 'UpstreamHttpError';
  }
}

/** GET/POST that expects JSON; throws UpstreamHttpError on a non-2xx status. */
export async function fetchJSON<T>(http: HttpFetch, url: string, init: RequestInit = {}): Promise<T> {
  const res = await http(url, {
    ...init,
    headers: { Accept: 'application/json', ...(init.headers as Record<string, string> | undefined) },
  });
  const text = await res.text();
  if (!res.ok) throw new UpstreamHttpError(url, res.status, text);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UpstreamHttpError(url, res.status, `not JSON: ${text.slice(0, 100)}`);
  }
}
