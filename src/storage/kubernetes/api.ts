import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  HttpMethod,
  Observable,
  RequestContext,
  Watch,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type ResponseContext,
} from '@kubernetes/client-node';
import { PooledConnection, UndiciRequests, pooledAuthentication } from './connection.js';

// Every request the Kubernetes back end makes goes through KubeApi: one place that counts requests by verb
// (the request budgets of DESIGN.md are checked with it), puts a timeout on each call, and turns whatever
// client-node throws into one error type with the HTTP status, the API's own reason and message.
//
// And one place that decides how requests reach the API server: client-node builds the requests, reads the
// kubeconfig and authenticates, but on its own it opens a new TLS connection per request (a handshake costs
// more than a GET), so every request here is authenticated by a PooledConnection (connection.ts), which
// sends it over the process's shared pool of kept-alive connections for these credentials, and sent with
// undici's request() instead of client-node's fetch(), whose overhead is most of what a call costs once the
// handshake is gone. Watches stay client-node's own: one long-lived connection each.

/** Stateless: the connection comes with each request (PooledConnection sets it). */
const HTTP = new UndiciRequests();

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'delete';
export type RequestCounter = (verb: Verb, resource: string) => void;

/** Counts requests by verb and resource; `tally.counter` is what KubernetesStorage.open takes. */
export class RequestTally {
  private readonly counts = new Map<string, number>();

  readonly counter: RequestCounter = (verb, resource) => {
    const key = `${verb} ${resource}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  };

  /** Requests with this verb (and resource, when given). */
  count(verb: Verb, resource?: string): number {
    let n = 0;
    for (const [key, c] of this.counts) {
      const [v, r] = key.split(' ');
      if (v === verb && (resource === undefined || r === resource)) n += c;
    }
    return n;
  }

  /** create + update + delete. */
  writes(resource?: string): number {
    return this.count('create', resource) + this.count('update', resource) + this.count('delete', resource);
  }

  /** get + list (watches are not reads of a single request). */
  reads(resource?: string): number {
    return this.count('get', resource) + this.count('list', resource);
  }

  /** `{"get refreshtokens": 2, …}`, sorted, for readable test failures. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  reset(): void {
    this.counts.clear();
  }
}

/** A failed API request: `status` is absent when no HTTP answer came (network error, timeout). */
export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly verb: Verb,
    /** The plural ("authcodes"). */
    readonly resource: string,
    /** The API group ("latchkey.dev"; "" for the core group). */
    readonly group: string,
    readonly status: number | undefined,
    /** The Status `reason` (NotFound, AlreadyExists, Conflict, Forbidden, Expired, …) when the API sent one. */
    readonly reason: string | undefined,
    /** A network error code (ECONNREFUSED, …) or "Timeout". */
    readonly networkCode: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KubeApiError';
  }

  /** "authcodes.latchkey.dev", "secrets". */
  get qualifiedResource(): string {
    return this.group ? `${this.resource}.${this.group}` : this.resource;
  }

  /** Worth retrying later: no answer, overload or a server error. */
  get transient(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }
}

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
}

export interface ListParams {
  limit?: number;
  continue?: string;
  labelSelector?: string;
}

export interface KubeList<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** The shape of the objects this back end reads and writes. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    /** Raised by the API server on every spec change (not on status writes). */
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
}

export class KubeApi {
  readonly server: string;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly authentication: PooledConnection | KubeConfig;

  constructor(
    readonly kc: KubeConfig,
    readonly namespace: string,
    private readonly counter: RequestCounter | undefined,
    readonly timeoutMs: number,
  ) {
    this.server = kc.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)';
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.authentication = pooledAuthentication(kc);
  }

  /** Lets go of the shared pool (its connections close once idle, unless another KubeApi uses them). */
  close(): void {
    if (this.authentication instanceof PooledConnection) this.authentication.close();
  }

  /** GET one namespaced object of any API group (`/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>`). */
  get<T = KubeObject>(ref: ResourceRef, name: string): Promise<T> {
    return this.call('get', ref, (options) =>
      this.custom.getNamespacedCustomObject({ ...ref, namespace: this.namespace, name }, options),
    );
  }

  list<T = KubeObject>(ref: ResourceRef, params: ListParams = {}): Promise<KubeList<T>> {
    return this.call('list', ref, (options) =>
      this.custom.listNamespacedCustomObject(
        {
          ...ref,
          namespace: this.namespace,
          ...(params.limit !== undefined ? { limit: params.limit } : {}),
          ...(params.continue !== undefined ? { _continue: params.continue } : {}),
          ...(params.labelSelector !== undefined ? { labelSelector: params.labelSelector } : {}),
        },
        options,
      ),
    );
  }

  create<T = KubeObject>(ref: ResourceRef, body: object): Promise<T> {
    return this.call('create', ref, (options) =>
      this.custom.createNamespacedCustomObject({ ...ref, namespace: this.namespace, body }, options),
    );
  }

  /** PUT: the body's metadata.resourceVersion makes it a compare-and-swap (409 when stale). */
  replace<T = KubeObject>(ref: ResourceRef, name: string, body: object): Promise<T> {
    return this.call('update', ref, (options) =>
      this.custom.replaceNamespacedCustomObject({ ...ref, namespace: this.namespace, name, body }, options),
    );
  }

  /**
   * PUT of the status subresource, a compare-and-swap like replace. Counted as an update of
   * `<plural>/status`, so the request budgets tell status writes from the back end's own.
   */
  replaceStatus<T = KubeObject>(ref: ResourceRef, name: string, body: object): Promise<T> {
    return this.call('update', { ...ref, plural: `${ref.plural}/status` }, (options) =>
      this.custom.replaceNamespacedCustomObjectStatus(
        { ...ref, namespace: this.namespace, name, body },
        options,
      ),
    );
  }

  /** DELETE, optionally only if the object still has this uid and resourceVersion (else 409). */
  delete(
    ref: ResourceRef,
    name: string,
    preconditions?: { uid?: string; resourceVersion?: string },
  ): Promise<unknown> {
    return this.call('delete', ref, (options) =>
      this.custom.deleteNamespacedCustomObject(
        {
          ...ref,
          namespace: this.namespace,
          name,
          ...(preconditions ? { body: { preconditions } } : {}),
        },
        options,
      ),
    );
  }

  /** GET a cluster-scoped object (CustomResourceDefinitions). */
  getClusterScoped<T = KubeObject>(ref: ResourceRef, name: string): Promise<T> {
    return this.call('get', ref, (options) => this.custom.getClusterCustomObject({ ...ref, name }, options));
  }

  /** POST a cluster-scoped object (CustomResourceDefinitions, self-subject reviews), sent as given. */
  createClusterScoped<T = KubeObject>(ref: ResourceRef, body: object): Promise<T> {
    return this.call('create', ref, (options) =>
      this.custom.createClusterCustomObject({ ...ref, body }, options),
    );
  }

  /**
   * GET the published OpenAPI v3 document of an API group version, which every authenticated user may read
   * (system:discovery): what an identity without any permission on CRDs can learn of their schemas.
   */
  openApiV3<T = unknown>(group: string, version: string): Promise<T> {
    return this.call('get', { group, version, plural: 'openapi/v3' }, async (options) => {
      const context = new RequestContext(
        `${this.server.replace(/\/$/, '')}/openapi/v3/apis/${group}/${version}`,
        HttpMethod.GET,
      );
      context.setHeaderParam('Accept', 'application/json');
      context.setSignal(AbortSignal.timeout(this.timeoutMs));
      await options.authMethods!.default!.applySecurityAuthentication(context);
      const response = await HTTP.send(context).toPromise();
      const body = await response.body.text();
      if (response.httpStatusCode !== 200) {
        throw new ApiException(response.httpStatusCode, 'openapi', body, response.headers);
      }
      return JSON.parse(body) as T;
    });
  }

  /** GET one Secret of the namespace by name (RBAC `get`, which resourceNames can restrict). */
  getSecret(name: string): Promise<KubeObject> {
    return this.call(
      'get',
      { group: '', version: 'v1', plural: 'secrets' },
      async (options) =>
        (await this.core.readNamespacedSecret({ namespace: this.namespace, name }, options)) as KubeObject,
    );
  }

  listSecrets(): Promise<KubeList<KubeObject>> {
    return this.call(
      'list',
      { group: '', version: 'v1', plural: 'secrets' },
      async (options) =>
        (await this.core.listNamespacedSecret(
          { namespace: this.namespace },
          options,
        )) as KubeList<KubeObject>,
    );
  }

  /**
   * A client-node Watch whose requests are counted and carry bookmarks and a server-side timeout, and which
   * opens nothing once its owner has stopped (an informer may reconnect while being stopped).
   */
  watcher(resource: string, stopped: () => boolean): Watch {
    return new CountingWatch(this.kc, () => this.counter?.('watch', resource), stopped);
  }

  /** Counts the request, bounds it by the timeout, and classifies its failure. */
  private async call<T>(
    verb: Verb,
    ref: ResourceRef,
    send: (options: ConfigurationOptions<ObservableMiddleware>) => Promise<T>,
  ): Promise<T> {
    this.counter?.(verb, ref.plural);
    try {
      return await send(this.requestOptions());
    } catch (e) {
      throw classify(e, verb, ref, this.namespace, this.server, this.timeoutMs);
    }
  }

  private requestOptions(): ConfigurationOptions<ObservableMiddleware> {
    const timeoutMs = this.timeoutMs;
    const middleware: ObservableMiddleware = {
      pre(context: RequestContext) {
        context.setSignal(AbortSignal.timeout(timeoutMs));
        return new Observable(Promise.resolve(context));
      },
      post(context: ResponseContext) {
        return new Observable(Promise.resolve(context));
      },
    };
    return {
      middleware: [middleware],
      middlewareMergeStrategy: 'append',
      authMethods: { default: this.authentication },
      httpApi: HTTP,
    };
  }
}

/** Seconds a watch stays open before the server ends it (and the informer resumes from its version). */
const WATCH_SERVER_TIMEOUT_S = 300;
/** No byte (event or bookmark) for this long means the connection is dead: reconnect. */
const WATCH_INACTIVITY_MS = 150_000;

class CountingWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly onRequest: () => void,
    private readonly stopped: () => boolean,
  ) {
    super(kc);
    // Bookmarks arrive about once a minute, so a healthy quiet watch is never mistaken for a dead one.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_INACTIVITY_MS;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.stopped()) {
      const controller = new AbortController();
      controller.abort();
      return controller;
    }
    this.onRequest();
    const timeoutSeconds = WATCH_SERVER_TIMEOUT_S + Math.floor(Math.random() * WATCH_SERVER_TIMEOUT_S);
    const controller = await super.watch(
      path,
      { ...queryParams, allowWatchBookmarks: true, timeoutSeconds },
      callback,
      done,
    );
    // Stopped while connecting: the informer's stop() had nothing to abort yet.
    if (this.stopped()) controller.abort();
    return controller;
  }
}

function classify(
  e: unknown,
  verb: Verb,
  ref: ResourceRef,
  namespace: string,
  server: string,
  timeoutMs: number,
): KubeApiError {
  if (e instanceof KubeApiError) return e;
  const resource = ref.group ? `${ref.plural}.${ref.group}` : ref.plural;
  const error = (message: string, status?: number, reason?: string, code?: string): KubeApiError =>
    new KubeApiError(message, verb, ref.plural, ref.group, status, reason, code, { cause: e });
  if (e instanceof ApiException) {
    const status = e.code;
    const body = parseStatus(e.body);
    return error(
      `${verb} ${resource}: ${body?.message ?? `HTTP ${status}`}`,
      status,
      body?.reason ?? reasonOf(status),
    );
  }
  const name = (e as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return error(
      `${verb} ${resource} in namespace "${namespace}": no answer from the Kubernetes API at ${server} within ${timeoutMs} ms`,
      undefined,
      undefined,
      'Timeout',
    );
  }
  const code = networkCode(e);
  return error(
    `cannot reach the Kubernetes API at ${server}: ${code ?? String((e as Error)?.message ?? e)}`,
    undefined,
    undefined,
    code,
  );
}

function parseStatus(body: unknown): { reason?: string; message?: string } | undefined {
  let v: unknown = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  if (typeof v === 'string') {
    const text = v.trim();
    try {
      v = JSON.parse(text);
    } catch {
      return text ? { message: text } : undefined;
    }
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { reason?: unknown; message?: unknown };
  return {
    ...(typeof o.reason === 'string' && o.reason ? { reason: o.reason } : {}),
    ...(typeof o.message === 'string' && o.message ? { message: o.message } : {}),
  };
}

function reasonOf(status: number): string | undefined {
  return (
    {
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'NotFound',
      409: 'Conflict',
      410: 'Expired',
      422: 'Invalid',
      429: 'TooManyRequests',
    } as Record<number, string>
  )[status];
}

/** The first `code` along the cause chain (undici wraps socket errors: TypeError("fetch failed").cause). */
function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur; depth++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string' && c) return c;
    const errors = (cur as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = networkCode(errors[0]);
      if (inner) return inner;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
