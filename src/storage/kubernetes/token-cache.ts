import type { Watch } from '@kubernetes/client-node';
import type { KubeApi, KubeObject } from './api.js';
import type { StorageLogger } from './logger.js';
import { isNewer } from './watch-cache.js';

// A bounded, watch-invalidated cache of the objects of one kind that this replica has itself created, read
// or updated (refresh tokens, offline sessions): the kinds too numerous to hold whole, read once per refresh.
//
// Exactness rests on three rules:
//  - a hit is served only while a watch of the whole collection is running, started after the cache was
//    last emptied; it replaces or drops the entries it has events for and ignores every other name, so
//    memory is the bound × object size, never the collection's size;
//  - an entry only ever comes from a request registered (`through`) while that watch ran: an event for the
//    name seen while the request was in flight wins over the request's older answer, so a change made
//    between the API's answer and its arrival here is never lost;
//  - when the watch ends for any reason (410 Gone, a dropped connection, the server's timeout) the cache is
//    emptied and serves nothing until a new watch, from a fresh list's version, is running.
// A stale hit can still happen within the watch's lag, as an uncached GET can be overtaken by a write the
// moment after it: every write built on a hit is a compare-and-swap on the resourceVersion read, so it
// loses (409) and is retried on a fresh GET.

const RESTART_MIN_MS = 200;
const RESTART_MAX_MS = 30_000;

export interface TokenCacheOptions {
  /** Resource name for messages and request counting ("refreshtokens"). */
  resource: string;
  /** API path of the collection, e.g. /apis/latchkey.dev/v1/namespaces/x/refreshtokens. */
  path: string;
  /** The collection's current resourceVersion (a LIST of one item: the watch starts there). */
  currentVersion(): Promise<string>;
  /** At most this many entries; the least recently used goes first. */
  maxEntries: number;
  logger?: StorageLogger | undefined;
}

/** A request in flight whose answer may become an entry: the newest event seen for its name meanwhile. */
interface Fill {
  epoch: number;
  /** The newest watch event for the name while in flight; null object = deleted. */
  seen?: { rv: string | undefined; object: KubeObject | null };
}

export class TokenCache {
  /** Name → object, in least-recently-used-first order (a Map keeps insertion order). */
  private readonly entries = new Map<string, KubeObject>();
  private readonly fills = new Map<string, Set<Fill>>();
  private readonly watch: Watch;
  /** Raised on every (re)start and stop: answers and events of an older watch are ignored. */
  private epoch = 0;
  private synced = false;
  private stopped = true;
  private abort: AbortController | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelay = RESTART_MIN_MS;
  private restarts = 0;

  constructor(
    api: KubeApi,
    private readonly opts: TokenCacheOptions,
  ) {
    this.watch = api.watcher(opts.resource, () => this.stopped);
  }

  /** Starts the watch; resolves once it runs. A failure is logged and retried (the cache stays empty). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.invalidate();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  /** Entries held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Whether hits are served (a watch started after the last emptying is running). */
  get live(): boolean {
    return this.synced;
  }

  /**
   * An API request just went unanswered (network error, timeout, 5xx, 429). The watch may be as dead as the
   * server without having noticed: a killed API server's watch stream can stay open, silent, for minutes,
   * and a silent watch looks like an idle one. So stop serving until a new watch runs — an outage then never
   * answers a read from memory that nobody can vouch for.
   */
  distrust(): void {
    if (this.stopped || !this.synced) return;
    this.ended(this.epoch, new Error('an API request went unanswered'));
  }

  /** How many times the watch was started again after ending. */
  get restartCount(): number {
    return this.restarts;
  }

  /** The cached object of this name, or undefined (a miss: ask the API, through `through`). */
  get(name: string): KubeObject | undefined {
    if (!this.synced) return undefined;
    const o = this.entries.get(name);
    if (o) {
      this.entries.delete(name);
      this.entries.set(name, o);
    }
    return o;
  }

  /**
   * Runs a request answering with the current object of this name (GET, create, replace) and keeps its
   * answer, unless a newer event for the name came meanwhile (then that) or the watch restarted meanwhile
   * (then nothing). Returns the request's own answer either way.
   */
  async through(name: string, request: () => Promise<KubeObject>): Promise<KubeObject> {
    if (!this.synced) return request();
    const fill: Fill = { epoch: this.epoch };
    let pending = this.fills.get(name);
    if (!pending) this.fills.set(name, (pending = new Set()));
    pending.add(fill);
    try {
      const answer = await request();
      if (fill.epoch === this.epoch && this.synced) {
        const seen = fill.seen;
        if (seen && !isNewer(answer.metadata.resourceVersion, seen.rv)) {
          if (seen.object) this.keep(name, seen.object);
          else this.entries.delete(name);
        } else {
          this.keep(name, answer);
        }
      }
      return answer;
    } finally {
      pending.delete(fill);
      if (pending.size === 0 && this.fills.get(name) === pending) this.fills.delete(name);
    }
  }

  /** Drops the entry (the object was deleted here, or a write found it gone). */
  forget(name: string): void {
    this.entries.delete(name);
  }

  private keep(name: string, o: KubeObject): void {
    const current = this.entries.get(name);
    if (current && isNewer(current.metadata.resourceVersion, o.metadata.resourceVersion)) return;
    this.entries.delete(name);
    this.entries.set(name, o);
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** A watch event: applied to a held entry and to requests in flight for the name; ignored otherwise. */
  private event(epoch: number, phase: string, o: KubeObject): void {
    if (epoch !== this.epoch) return;
    const name = o.metadata?.name;
    if (!name) return;
    const rv = o.metadata.resourceVersion;
    const deleted = phase === 'DELETED';
    for (const fill of this.fills.get(name) ?? []) {
      if (!fill.seen || isNewer(rv, fill.seen.rv)) fill.seen = { rv, object: deleted ? null : o };
    }
    const held = this.entries.get(name);
    if (!held || !isNewer(rv, held.metadata.resourceVersion)) return;
    if (deleted) this.entries.delete(name);
    else this.entries.set(name, o); // an update by someone else is no use of ours: LRU order unchanged
  }

  /** Empties the cache and stops serving: nothing held can be trusted without a watch behind it. */
  private invalidate(): void {
    this.epoch++;
    this.synced = false;
    this.entries.clear();
    const abort = this.abort;
    this.abort = undefined;
    abort?.abort();
  }

  private async connect(): Promise<void> {
    this.invalidate();
    const epoch = this.epoch;
    try {
      const resourceVersion = await this.opts.currentVersion();
      if (epoch !== this.epoch || this.stopped) return;
      const abort = await this.watch.watch(
        this.opts.path,
        { resourceVersion },
        (phase, obj) => {
          if (phase === 'ERROR') return this.ended(epoch, obj);
          if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') {
            this.event(epoch, phase, obj as KubeObject);
          }
        },
        (err) => this.ended(epoch, err),
      );
      if (epoch !== this.epoch || this.stopped) {
        abort.abort();
        return;
      }
      this.abort = abort;
      this.synced = true;
      this.restartDelay = RESTART_MIN_MS;
    } catch (err) {
      this.ended(epoch, err);
    }
  }

  /** The watch of this epoch ended (or could not start): empty the cache and start again. */
  private ended(epoch: number, err: unknown): void {
    if (epoch !== this.epoch || this.stopped) return;
    this.invalidate();
    if (err) {
      this.opts.logger?.warn(
        { err, resource: this.opts.resource, retryInMs: this.restartDelay },
        'kubernetes storage: token cache watch failed; serving from the API until it runs again',
      );
    }
    if (this.restartTimer) return;
    // A clean end (the server's timeout) restarts at once; a failure backs off.
    const delay = err ? this.restartDelay : 0;
    if (err) this.restartDelay = Math.min(this.restartDelay * 2, RESTART_MAX_MS);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      if (!this.stopped) void this.connect();
    }, delay);
    this.restartTimer.unref();
  }
}
