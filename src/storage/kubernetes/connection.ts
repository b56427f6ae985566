import { createHash } from 'node:crypto';
import type { AgentOptions, RequestOptions } from 'node:https';
import { isDeepStrictEqual } from 'node:util';
import {
  Observable,
  ResponseContext,
  SelfDecodingBody,
  type DispatcherOptions,
  type HttpLibrary,
  type KubeConfig,
  type RequestContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';

// The connections KubeApi's requests travel on. client-node 2.0.1 authenticates each request by building a
// new undici Agent for it (KubeConfig.applySecurityAuthentication → createDispatcher), so every API call
// opens a new TLS connection, and the handshake costs more than the call it carries. PooledConnection takes
// the KubeConfig's place as the requests' authentication: the same headers from client-node's own
// authenticators (token, token file, exec, OIDC, basic auth, impersonation), the same TLS material read the
// same way on every request — but the connection comes from one long-lived pool per process and TLS
// credentials. A changed CA or client certificate (a rotated file, read again per request as before) gets a
// new pool; the old one is dropped once no KubeApi uses it.
//
// HTTP/1.1, although kube-apiserver offers HTTP/2 and undici 8 would take it: measured side by side on the
// test control plane (test/bench/kubernetes.mjs), a GET over undici's HTTP/2 session takes 0.2–0.4 ms more
// than over a kept-alive HTTP/1.1 connection (~1.7 against ~1.5 ms), and eight concurrent callers get no
// more from one multiplexed session than from a pool of eight connections; a refresh is three API calls in
// a row, so latency is what counts.
//
// And undici's request() rather than the fetch() client-node sends with: the WHATWG layer of fetch costs
// ~0.2 ms of CPU per call (0.55 against 0.33 ms per GET through KubeApi, a raw request() 0.30), which on two
// cores is a good part of what a refresh costs. UndiciRequests sends what client-node built, as its own HTTP
// library would: the same method, URL, headers, body, timeout signal and dispatcher. Failures reach KubeApi's
// error mapping as undici's own errors, which fetch only wraps ("fetch failed", the same error as its cause),
// and a timeout rejects with the signal's TimeoutError either way.

/**
 * How long an idle connection stays open (undici's default is 4 s, which would cost a quiet identity provider
 * a handshake per login): well under the idle timeouts of the API server and of common load balancers, and
 * the TCP keep-alive probes client-node sets (after 30 s idle) keep middleboxes from forgetting it meanwhile.
 */
const IDLE_CONNECTION_MS = 30_000;

/**
 * At most this many connections at once; more concurrent requests wait for one (their timeout runs
 * meanwhile). A burst then costs at most this many handshakes, and the API server sees no more
 * connections than that.
 */
const MAX_CONNECTIONS = 16;

/** TCP keep-alive as client-node sets it for its own connections. */
const TCP_KEEPALIVE = { keepAlive: true, keepAliveInitialDelay: 30_000 };

interface Shared {
  readonly key: string;
  readonly dispatcher: Dispatcher;
  users: number;
}

/** The process's dispatchers, by a digest of the TLS credentials and proxy they connect with. */
const shared = new Map<string, Shared>();

function acquire(options: DispatcherOptions): Shared {
  const key = credentialKey(options);
  let entry = shared.get(key);
  if (!entry) {
    entry = { key, dispatcher: newDispatcher(options), users: 0 };
    shared.set(key, entry);
  }
  entry.users++;
  return entry;
}

/**
 * Forgets a dispatcher nobody uses any more. It is not closed: a request that picked it a moment ago may
 * still be about to send on it, and its idle connections close by themselves after IDLE_CONNECTION_MS.
 */
function release(entry: Shared): void {
  if (--entry.users === 0 && shared.get(entry.key) === entry) shared.delete(entry.key);
}

/** A digest, not the material itself, so that no key or certificate sits in a map key. */
function credentialKey(options: DispatcherOptions): string {
  return createHash('sha256').update(JSON.stringify(options)).digest('base64url');
}

function newDispatcher(options: DispatcherOptions): Dispatcher {
  const pooling = { allowH2: false, connections: MAX_CONNECTIONS, keepAliveTimeout: IDLE_CONNECTION_MS };
  switch (options.type) {
    case 'agent':
      return new Agent({ ...pooling, connect: options.connect });
    case 'none':
      return new Agent({ ...pooling, connect: TCP_KEEPALIVE });
    case 'proxy':
      return new ProxyAgent({
        ...pooling,
        uri: options.uri,
        requestTls: options.requestTls,
        connect: options.connect,
      });
    case 'socks':
      // Never reached: pooledAuthentication leaves SOCKS clusters to client-node (its tunnel is its own).
      throw new Error('kubernetes storage: SOCKS proxies keep client-node’s own connections');
  }
}

/**
 * What KubeApi authenticates its requests with: a PooledConnection, or the KubeConfig itself for a cluster
 * reached through a SOCKS proxy, whose tunnelling connector client-node keeps to itself (one connection per
 * request there, as before).
 */
export function pooledAuthentication(kc: KubeConfig): PooledConnection | KubeConfig {
  return kc.getCurrentCluster()?.proxyUrl?.startsWith('socks') ? kc : new PooledConnection(kc);
}

export class PooledConnection implements SecurityAuthentication {
  private current: { options: DispatcherOptions; entry: Shared } | undefined;

  constructor(private readonly kc: KubeConfig) {}

  getName(): string {
    return 'kubeconfig authentication over pooled connections';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    // applyToHTTPSOptions runs client-node's authenticators and reads the CA and client certificate (files
    // again on every call, as applySecurityAuthentication does); the https.Agent it also makes is built once
    // per KubeConfig and never used here.
    const https: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(https);
    // The order of client-node's applySecurityAuthentication: basic auth first, a bearer token wins.
    if (https.auth) {
      context.setHeaderParam('Authorization', `Basic ${Buffer.from(https.auth).toString('base64')}`);
    }
    for (const [name, value] of Object.entries(https.headers ?? {})) {
      if (value !== undefined) context.setHeaderParam(name, `${value}`);
    }
    const options = this.kc.createDispatcherOptions(this.kc.getCurrentCluster(), tlsCredentials(https));
    context.setDispatcher(this.dispatcherFor(options));
  }

  /** Stops holding the shared dispatcher (a later request takes it again). */
  close(): void {
    if (this.current) release(this.current.entry);
    this.current = undefined;
  }

  private dispatcherFor(options: DispatcherOptions): Dispatcher {
    if (this.current && isDeepStrictEqual(this.current.options, options)) {
      return this.current.entry.dispatcher;
    }
    // First request, or the credentials changed (a rotated certificate): move to their dispatcher.
    const entry = acquire(options);
    if (this.current) release(this.current.entry);
    this.current = { options, entry };
    return entry.dispatcher;
  }
}

/** The TLS options client-node's applySecurityAuthentication hands to createDispatcherOptions. */
function tlsCredentials(https: RequestOptions): AgentOptions {
  return {
    ca: https.ca,
    cert: https.cert,
    key: https.key,
    pfx: https.pfx,
    passphrase: https.passphrase,
    ...(https.rejectUnauthorized !== undefined ? { rejectUnauthorized: https.rejectUnauthorized } : {}),
    ...(https.servername !== undefined ? { servername: https.servername } : {}),
  };
}

/** client-node's HTTP library interface over undici's request(). */
export class UndiciRequests implements HttpLibrary {
  send(context: RequestContext): Observable<ResponseContext> {
    return new Observable(this.sendNow(context));
  }

  private async sendNow(context: RequestContext): Promise<ResponseContext> {
    const sent = context.getBody();
    const response = await request(context.getUrl(), {
      method: context.getHttpMethod() as Dispatcher.HttpMethod,
      headers: context.getHeaders(),
      body: sent instanceof URLSearchParams ? sent.toString() : (sent ?? null),
      signal: context.getSignal() ?? null,
      ...(context.getDispatcher() ? { dispatcher: context.getDispatcher() } : {}),
    });
    // Read whole before returning, as fetch's callers do: the connection is free again once it is.
    const body = Buffer.from(await response.body.arrayBuffer());
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return new ResponseContext(response.statusCode, headers, new SelfDecodingBody(Promise.resolve(body)));
  }
}
