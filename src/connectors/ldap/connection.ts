import { isIP } from 'node:net';
import type { ConnectionOptions as TLSConnectionOptions } from 'node:tls';
import { Client, ResultCodeError, type Entry, type Filter } from 'ldapts';
import { ConnectorError } from '../connector.js';
import type { LdapConfig, SearchScope } from './config.js';

// One LDAP connection per login or refresh (as Dex does), with a bound on how many are open at once and
// three timeouts: TCP connect, each operation, and the whole exchange (TLS handshakes included). Whatever
// goes wrong on the way to the directory becomes a ConnectorError whose user message says so plainly; the
// technical reason goes to the log. Result codes (invalid credentials…) are left to the caller.

export const UNREACHABLE = 'The directory server cannot be reached.';
export const UNTRUSTED = 'The directory server cannot be reached securely.';

export interface LdapTimeouts {
  /** TCP (and, for LDAPS, TLS) connection set-up. */
  connectMs: number;
  /** Each request's answer. */
  operationMs: number;
  /** A whole login or refresh, waiting for a free connection included. */
  totalMs: number;
}

export const DEFAULT_TIMEOUTS: LdapTimeouts = { connectMs: 5_000, operationMs: 10_000, totalMs: 20_000 };
export const DEFAULT_MAX_CONNECTIONS = 16;

/** What the connector did on the wire, for instrumentation (tests) — never a password. */
export type LdapOperation =
  | { kind: 'connect'; url: string }
  | { kind: 'startTLS' }
  | { kind: 'bind'; as: 'service' | 'anonymous' | 'user' | 'unknown-user'; dn: string }
  | { kind: 'search'; base: string; scope: SearchScope; filter: string }
  | { kind: 'close' };

export interface Endpoint {
  url: string;
  /** `host:port`, for messages. */
  label: string;
  security: LdapConfig['security'];
  tls: TLSConnectionOptions;
  host: string;
}

export function endpointOf(config: LdapConfig): Endpoint {
  const hostInURL = isIP(config.host) === 6 ? `[${config.host}]` : config.host;
  const tls: TLSConnectionOptions = {
    rejectUnauthorized: !config.tls.insecureSkipVerify,
    minVersion: 'TLSv1.2',
    ...(config.tls.ca !== undefined ? { ca: config.tls.ca } : {}),
    ...(config.tls.cert !== undefined ? { cert: config.tls.cert, key: config.tls.key } : {}),
    // SNI takes a name, never an address (RFC 6066 §3); certificate checks use `host` either way.
    ...(isIP(config.host) === 0 ? { servername: config.host } : {}),
  };
  return {
    url: `${config.security === 'ldaps' ? 'ldaps' : 'ldap'}://${hostInURL}:${config.port}`,
    label: `${hostInURL}:${config.port}`,
    security: config.security,
    tls,
    host: config.host,
  };
}

/** Counts open connections; callers beyond the bound wait their turn (within their total deadline). */
export class ConnectionLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async acquire(): Promise<() => void> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }

  get inUse(): number {
    return this.active;
  }
}

const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_SSL|ERR_TLS|EPROTO|HOSTNAME|ALTNAME/;

const RESULT_NAMES: Record<number, string> = {
  1: 'operations error',
  2: 'protocol error',
  3: 'time limit exceeded',
  4: 'size limit exceeded',
  7: 'authentication method not supported',
  8: 'stronger authentication required',
  11: 'administrative limit exceeded',
  13: 'confidentiality required',
  18: 'inappropriate matching',
  19: 'constraint violation',
  32: 'no such object',
  34: 'invalid DN syntax',
  48: 'inappropriate authentication',
  49: 'invalid credentials',
  50: 'insufficient access rights',
  51: 'busy',
  52: 'unavailable',
  53: 'unwilling to perform',
  80: 'other',
};

/** An LDAP result as a person reads it: `invalid credentials (result code 49): <server's diagnostic>`. */
export function describeResult(e: ResultCodeError): string {
  const diagnostic = e.message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
  return `${RESULT_NAMES[e.code] ?? 'LDAP error'} (result code ${e.code})${diagnostic ? `: ${diagnostic}` : ''}`;
}

/** Turns a failure to talk to the directory into the ConnectorError the user and the log see. */
export function transportError(e: unknown, endpoint: Endpoint, during: string): ConnectorError {
  if (e instanceof ConnectorError) return e;
  const err = e as Error & { code?: unknown };
  const code = typeof err.code === 'string' ? err.code : undefined;
  const detail = `${err.message ?? String(e)}${code !== undefined && !err.message?.includes(code) ? ` (${code})` : ''}`;
  if (code !== undefined && TLS_ERROR.test(code)) {
    return new ConnectorError(
      `ldap: TLS with ${endpoint.label} failed ${during}: ${detail}; the directory's certificate is not trusted ` +
        `— set rootCA or rootCAData to the CA that signed it (insecureSkipVerify only for tests)`,
      UNTRUSTED,
      { cause: e },
    );
  }
  return new ConnectorError(`ldap: ${endpoint.label} cannot be reached ${during}: ${detail}`, UNREACHABLE, {
    cause: e,
  });
}

/** One connection to the directory. Every operation is reported to `observe`. */
export class LdapSession {
  private constructor(
    private readonly client: Client,
    private readonly endpoint: Endpoint,
    private readonly observe: (op: LdapOperation) => void,
  ) {}

  static async open(
    endpoint: Endpoint,
    timeouts: LdapTimeouts,
    observe: (op: LdapOperation) => void,
  ): Promise<LdapSession> {
    const client = new Client({
      url: endpoint.url,
      connectTimeout: timeouts.connectMs,
      timeout: timeouts.operationMs,
      // Passing TLS options to ldapts turns TLS on from the first byte: only for LDAPS.
      ...(endpoint.security === 'ldaps' ? { tlsOptions: endpoint.tls } : {}),
    });
    const session = new LdapSession(client, endpoint, observe);
    observe({ kind: 'connect', url: endpoint.url });
    try {
      if (endpoint.security === 'startTLS') {
        observe({ kind: 'startTLS' });
        await client.startTLS({ ...endpoint.tls, host: endpoint.host });
      }
    } catch (e) {
      await session.close();
      if (e instanceof ResultCodeError) {
        throw new ConnectorError(
          `ldap: ${endpoint.label} refused StartTLS: ${describeResult(e)}`,
          UNTRUSTED,
          { cause: e },
        );
      }
      throw transportError(e, endpoint, 'while starting TLS');
    }
    return session;
  }

  /** A simple bind. Result-code errors (49 invalid credentials…) are thrown as ldapts raises them. */
  async bind(dn: string, password: string, as: 'service' | 'anonymous' | 'user' | 'unknown-user') {
    this.observe({ kind: 'bind', as, dn });
    const connecting = !this.client.isConnected;
    try {
      await this.client.bind(dn, password);
    } catch (e) {
      if (e instanceof ResultCodeError) throw e;
      throw transportError(e, this.endpoint, connecting ? 'while connecting' : 'while binding');
    }
  }

  async search(
    base: string,
    opts: { filter: Filter; scope: SearchScope; attributes: string[]; sizeLimit?: number },
  ): Promise<Entry[]> {
    this.observe({ kind: 'search', base, scope: opts.scope, filter: opts.filter.toString() });
    try {
      const result = await this.client.search(base, {
        filter: opts.filter,
        scope: opts.scope,
        attributes: opts.attributes.length > 0 ? opts.attributes : ['1.1'],
        derefAliases: 'never',
        ...(opts.sizeLimit !== undefined ? { sizeLimit: opts.sizeLimit } : { paged: { pageSize: 500 } }),
      });
      return result.searchEntries;
    } catch (e) {
      if (e instanceof ResultCodeError) throw e;
      throw transportError(e, this.endpoint, 'while searching');
    }
  }

  /** Unbinds and closes; never throws. */
  async close(): Promise<void> {
    this.observe({ kind: 'close' });
    try {
      await this.client.unbind();
    } catch {
      // The connection is gone either way.
    }
  }
}

/**
 * Runs `work` on a fresh session, within the connection bound and the total deadline, and closes the session
 * afterwards whatever happens.
 */
export async function withSession<T>(
  endpoint: Endpoint,
  opts: { timeouts: LdapTimeouts; limiter: ConnectionLimiter; observe: (op: LdapOperation) => void },
  work: (session: LdapSession) => Promise<T>,
): Promise<T> {
  let expired = false;
  let session: LdapSession | undefined;
  const run = async (): Promise<T> => {
    const release = await opts.limiter.acquire();
    try {
      if (expired) throw new Error('deadline passed while waiting for a connection');
      session = await LdapSession.open(endpoint, opts.timeouts, opts.observe);
      if (expired) throw new Error('deadline passed while connecting');
      try {
        return await work(session);
      } finally {
        await session.close();
      }
    } finally {
      release();
    }
  };
  const running = run();
  running.catch(() => {}); // settled late after a timeout: nobody is waiting for it any more
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      void session?.close();
      reject(
        new ConnectorError(
          `ldap: ${endpoint.label} did not answer within ${opts.timeouts.totalMs} ms`,
          UNREACHABLE,
        ),
      );
    }, opts.timeouts.totalMs);
  });
  try {
    return await Promise.race([running, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
