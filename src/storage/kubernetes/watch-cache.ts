import { ListWatch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeApi, KubeList, KubeObject } from './api.js';
import type { StorageLogger } from './logger.js';

// An in-memory copy of one kind's objects in the namespace, kept current by a client-node informer
// (list, then watch from that version; relist after 410 Gone). On top of the informer:
//  - read-your-writes: the back end puts what a write returned into the cache at once (only if newer than
//    what the cache holds) and takes deleted objects out, so a create-then-get in one process never misses,
//    and a late watch event of an older version never undoes a newer local write;
//  - an index by storage key (a spec field), so objects created with kubectl may have any name;
//  - errors restart the informer with backoff (client-node stops it on any error but 410).

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
const TOMBSTONE_TTL_MS = 10 * 60_000;

export interface WatchCacheOptions {
  /** Resource name for messages and request counting ("oauth2clients"). */
  resource: string;
  /** API path of the collection, e.g. /apis/latchkey.dev/v1/namespaces/x/oauth2clients. */
  path: string;
  list(): Promise<KubeList<KubeObject>>;
  /** The storage key of an object (undefined = not indexed). */
  keyOf(o: KubeObject): string | undefined;
  logger?: StorageLogger | undefined;
  /** Called with every object the cache takes in, local or from the watch. */
  onChange?: (o: KubeObject) => void;
}

/** Whether resource version a is newer than b (numeric when both are: etcd revisions). */
export function isNewer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || a === '') return false;
  if (b === undefined || b === '') return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) > BigInt(b);
  return a !== b;
}

export class WatchCache {
  private readonly byName = new Map<string, KubeObject>();
  private readonly byKey = new Map<string, Set<string>>();
  private readonly tombstones = new Map<string, { rv: string; at: number }>();
  private readonly informer: ListWatch<KubernetesObject>;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelay = RESTART_MIN_MS;
  private listed = false;
  private lastError: unknown;

  constructor(
    api: KubeApi,
    private readonly opts: WatchCacheOptions,
  ) {
    // Objects are used as the API sent them (JSON), whatever client-node's typings say.
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const result = await opts.list();
      this.reconcile(result);
      this.listed = true;
      this.restartDelay = RESTART_MIN_MS;
      return result as unknown as KubernetesListObject<KubernetesObject>;
    };
    this.informer = new ListWatch<KubernetesObject>(
      opts.path,
      api.watcher(opts.resource, () => this.stopped),
      list,
      false,
    );
    this.informer.on('add', (o) => this.fromWatch(() => this.take(o as KubeObject)));
    this.informer.on('update', (o) => this.fromWatch(() => this.take(o as KubeObject)));
    this.informer.on('delete', (o) => this.fromWatch(() => this.drop(o as KubeObject)));
    this.informer.on('error', (err?: unknown) => this.failed(err));
  }

  /** Lists and starts watching; rejects with the list's error if the first list fails. */
  async start(): Promise<void> {
    this.stopped = false;
    this.lastError = undefined;
    await this.informer.start();
    if (!this.listed) {
      this.stop();
      throw this.lastError ?? new Error(`the first list of ${this.opts.resource} failed`);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    void this.informer.stop();
  }

  get size(): number {
    return this.byName.size;
  }

  /** The object stored under this key; several (objects of kubectl users) ⇒ the oldest, by name on ties. */
  lookup(key: string): KubeObject | undefined {
    const names = this.byKey.get(key);
    if (!names || names.size === 0) return undefined;
    let best: KubeObject | undefined;
    for (const n of names) {
      const o = this.byName.get(n);
      if (o && (!best || older(o, best))) best = o;
    }
    return best;
  }

  byObjectName(name: string): KubeObject | undefined {
    return this.byName.get(name);
  }

  /** Every object, duplicates of a key included (each has its own status). */
  objects(): KubeObject[] {
    return [...this.byName.values()];
  }

  /** Every indexed key with its object, sorted by key. */
  entries(): [string, KubeObject][] {
    const out: [string, KubeObject][] = [];
    for (const key of this.byKey.keys()) {
      const o = this.lookup(key);
      if (o) out.push([key, o]);
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Read-your-writes: the object a create or replace returned. */
  put(o: KubeObject): void {
    this.take(o);
  }

  /** Read-your-writes: the object just deleted (as last read), so older watch events cannot revive it. */
  remove(o: KubeObject): void {
    const name = o.metadata.name;
    const current = this.byName.get(name);
    if (current && isNewer(current.metadata.resourceVersion, o.metadata.resourceVersion)) return;
    this.unindex(name);
    this.pruneTombstones();
    this.tombstones.set(name, { rv: o.metadata.resourceVersion ?? '', at: Date.now() });
  }

  private take(o: KubeObject): void {
    const name = o.metadata?.name;
    if (!name) return;
    const rv = o.metadata.resourceVersion;
    const tomb = this.tombstones.get(name);
    if (tomb) {
      if (!isNewer(rv, tomb.rv)) return;
      this.tombstones.delete(name);
    }
    const current = this.byName.get(name);
    if (current && !isNewer(rv, current.metadata.resourceVersion)) return;
    this.unindex(name);
    this.byName.set(name, o);
    const key = this.opts.keyOf(o);
    if (key !== undefined) {
      let names = this.byKey.get(key);
      if (!names) this.byKey.set(key, (names = new Set()));
      names.add(name);
    }
    this.opts.onChange?.(o);
  }

  /** A deletion seen by the watch (its version is the deletion's) or by a relist (the last known one). */
  private drop(o: KubeObject): void {
    const name = o.metadata?.name;
    if (!name) return;
    const current = this.byName.get(name);
    if (current && isNewer(current.metadata.resourceVersion, o.metadata.resourceVersion)) return;
    this.tombstones.delete(name);
    if (current) this.unindex(name);
  }

  /** After a (re)list: drop what the list no longer has, unless a local write made it after the list. */
  private reconcile(list: KubeList<KubeObject>): void {
    const listRV = list.metadata?.resourceVersion;
    const present = new Set(list.items.map((o) => o.metadata.name));
    for (const [name, o] of [...this.byName]) {
      if (!present.has(name) && !isNewer(o.metadata.resourceVersion, listRV)) this.unindex(name);
    }
  }

  private unindex(name: string): void {
    const old = this.byName.get(name);
    if (!old) return;
    this.byName.delete(name);
    const key = this.opts.keyOf(old);
    if (key === undefined) return;
    const names = this.byKey.get(key);
    names?.delete(name);
    if (names?.size === 0) this.byKey.delete(key);
  }

  private pruneTombstones(): void {
    const limit = Date.now() - TOMBSTONE_TTL_MS;
    for (const [name, t] of this.tombstones) if (t.at < limit) this.tombstones.delete(name);
  }

  private fromWatch(apply: () => void): void {
    this.restartDelay = RESTART_MIN_MS;
    apply();
  }

  private failed(err: unknown): void {
    this.lastError = err;
    if (this.stopped || !this.listed) return;
    this.opts.logger?.warn(
      { err, resource: this.opts.resource, retryInMs: this.restartDelay },
      'kubernetes storage: watch failed; restarting it (reads are served from the cache meanwhile)',
    );
    if (this.restartTimer) return;
    const delay = this.restartDelay;
    this.restartDelay = Math.min(this.restartDelay * 2, RESTART_MAX_MS);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.informer.start();
    }, delay);
    this.restartTimer.unref();
  }
}

function older(a: KubeObject, b: KubeObject): boolean {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb;
  return a.metadata.name < b.metadata.name;
}
