import { UnavailableError } from '../errors.js';
import { KubeApiError, type KubeApi, type KubeObject } from './api.js';
import type { StorageLogger } from './logger.js';
import { describeStartupFailure } from './startup.js';
import { WatchCache } from './watch-cache.js';

// The Secrets that clients name in OAuth2Client.spec.secretRef, in one of two ways:
//
// - By name (the default): each referenced Secret is read with a GET when first needed and kept for a few
//   seconds. RBAC `get` on secrets suffices — and `resourceNames` can narrow it to exactly those Secrets —
//   so Latchkey can neither enumerate the namespace's Secrets nor be handed every one of them by a watch.
// - Watched (`storage.config.watchSecrets: true`): one list + watch of every Secret in the namespace, so
//   there is no request per referenced Secret, at the price of RBAC list and watch on all of them.
//   (`resourceNames` cannot help there: a list or watch it allows must select a single name.)

/** Where the storage reads a referenced Secret from. */
export interface ClientSecretSource {
  /** The Secret, or undefined when it does not exist. Throws UnavailableError when it cannot be read. */
  get(name: string): Promise<KubeObject | undefined>;
  /** Some client references a Secret: a source that has to warm up starts now rather than at first use. */
  referenced(): void;
  stop(): void;
}

export interface SecretsByNameOptions {
  /** How long a read Secret (or its absence) is used before it is read again. */
  freshMs: number;
  logger?: StorageLogger | undefined;
}

/**
 * A rotated client secret is seen within this long; meanwhile a client authenticating repeatedly costs no
 * request.
 */
export const SECRET_FRESH_MS = 10_000;
/** While the API fails, the last Secret read stays in use this long (a Secret deleted meanwhile too). */
const STALE_USABLE_MS = 5 * 60_000;
/** After a failed read, the stale value is served this long before the API is asked again. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** Names are those clients reference; a bound all the same, so no table in the process is unbounded. */
const MAX_ENTRIES = 1024;

interface Entry {
  secret: KubeObject | undefined;
  /** When the API last answered for this name. */
  readAt: number;
  /** Until when the entry is used without asking the API. */
  freshUntil: number;
}

/** Each referenced Secret read with a GET by name, kept for `freshMs`; concurrent readers share one GET. */
export class SecretsByName implements ClientSecretSource {
  private readonly entries = new Map<string, Entry>();
  private readonly reading = new Map<string, Promise<KubeObject | undefined>>();

  constructor(
    private readonly api: KubeApi,
    private readonly opts: SecretsByNameOptions,
  ) {}

  get(name: string): Promise<KubeObject | undefined> {
    const known = this.entries.get(name);
    if (known && Date.now() < known.freshUntil) return Promise.resolve(known.secret);
    let pending = this.reading.get(name);
    if (!pending) {
      pending = this.read(name, known).finally(() => this.reading.delete(name));
      this.reading.set(name, pending);
    }
    return pending;
  }

  referenced(): void {}

  stop(): void {
    this.entries.clear();
  }

  private async read(name: string, known: Entry | undefined): Promise<KubeObject | undefined> {
    try {
      return this.remember(name, await this.api.getSecret(name));
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return this.remember(name, undefined);
      const now = Date.now();
      if (e instanceof KubeApiError && e.transient && known && now - known.readAt < STALE_USABLE_MS) {
        known.freshUntil = now + RETRY_AFTER_FAILURE_MS;
        this.opts.logger?.warn(
          { err: e, secret: name },
          'kubernetes storage: cannot read a Secret that a client references; using the last value read',
        );
        return known.secret;
      }
      throw new UnavailableError(
        `kubernetes storage: cannot read Secret "${name}", which a client references: ` +
          describeStartupFailure(e, this.api.namespace),
        { cause: e },
      );
    }
  }

  private remember(name: string, secret: KubeObject | undefined): KubeObject | undefined {
    const now = Date.now();
    // Re-inserted, so the Map's order is the order of reads and the first entry the one to forget.
    this.entries.delete(name);
    this.entries.set(name, { secret, readAt: now, freshUntil: now + this.opts.freshMs });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return secret;
  }
}

/** Every Secret of the namespace in a watch cache, started when a client first references one. */
export class WatchedSecrets implements ClientSecretSource {
  private started: { cache: WatchCache; ready: Promise<void> } | undefined;
  private stopped = false;

  constructor(
    private readonly api: KubeApi,
    private readonly logger: StorageLogger | undefined,
  ) {}

  async get(name: string): Promise<KubeObject | undefined> {
    return (await this.cache()).byObjectName(name);
  }

  referenced(): void {
    if (this.started || this.stopped) return;
    this.cache().catch((e: unknown) =>
      this.logger?.warn({ err: e }, 'kubernetes storage: cannot watch Secrets referenced by clients'),
    );
  }

  stop(): void {
    this.stopped = true;
    this.started?.cache.stop();
  }

  /** Started on first need, so that no Secret RBAC is needed while no client references one. */
  private async cache(): Promise<WatchCache> {
    if (!this.started) {
      const cache = new WatchCache(this.api, {
        resource: 'secrets',
        path: `/api/v1/namespaces/${this.api.namespace}/secrets`,
        list: () => this.api.listSecrets(),
        keyOf: () => undefined,
        logger: this.logger,
      });
      const ready = cache.start();
      this.started = { cache, ready };
      // A failed start is retried by the next reader.
      ready.catch(() => {
        if (this.started?.cache === cache) this.started = undefined;
      });
    }
    const { cache, ready } = this.started;
    try {
      await ready;
    } catch (e) {
      throw new UnavailableError(
        `kubernetes storage: cannot watch the Secrets that clients reference: ${describeStartupFailure(e, this.api.namespace)}`,
        { cause: e },
      );
    }
    if (this.stopped) cache.stop();
    return cache;
  }
}
