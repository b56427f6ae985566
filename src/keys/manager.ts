// KeyManager keeps one key set (signing or sealing) in storage, shared by every replica, and a cached copy
// in this process. See rotation.ts for the model.
//
// Replicas race safely:
// - creation: createKeySet; the loser gets AlreadyExists and adopts what the winner wrote (debug log);
// - rotation: the new key is generated *outside* the updater (async), then updateKeySet runs the pure
//   rotateKeySet, which re-checks that a step is due and returns its argument itself (no write) when another
//   replica already took it. Exactly one replica rotates; the others log at debug.
// The cached set is re-read every min(30 s, period / 4) and whenever it says a rotation is due. Signing never
// waits for the timer: the active key is computed from the cached set and the current time, so a replica
// switches to the pre-published next key at the right instant even before it re-reads storage.

import { isAlreadyExists, isNotFound } from '../storage/errors.js';
import type { KeySet, KeySetName, Storage, StoredKey } from '../storage/storage.js';
import { systemClock, type Clock } from '../util/clock.js';
import { generateSealingKey, generateSigningKey, type SigningAlgorithm } from './generate.js';
import { activeKey, initialKeySet, isRotationDue, nextKey, rotateKeySet } from './rotation.js';

export interface KeyLogger {
  debug(o: object, msg?: string): void;
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface KeyManagerOptions {
  name: KeySetName;
  kind: 'signing' | 'sealing';
  /** Signing keys only; applies to keys generated from now on (the next rotation). Default RS256. */
  algorithm?: SigningAlgorithm;
  rotationPeriodMs: number;
  /** How long a retired key stays published/accepted: the longest a token it signed (or a sealed value) lives. */
  retentionMs: number;
  clock?: Clock;
  logger?: KeyLogger;
  /** Called once per rotation this process wrote (not for rotations adopted from other replicas). */
  onRotate?: (ks: KeySet) => void;
  /** Re-read interval; default min(30 s, period / 4). */
  refreshIntervalMs?: number;
}

const noop = (): void => {};
const silent: KeyLogger = { debug: noop, info: noop, warn: noop, error: noop };

export class KeyManager {
  readonly name: KeySetName;
  readonly kind: 'signing' | 'sealing';
  readonly algorithm: SigningAlgorithm;
  readonly rotationPeriodMs: number;
  readonly retentionMs: number;
  readonly clock: Clock;
  readonly refreshIntervalMs: number;
  private readonly logger: KeyLogger;
  private readonly onRotate: ((ks: KeySet) => void) | undefined;

  private cached: KeySet | undefined;
  private inflight: Promise<KeySet> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private rotationCount = 0;

  constructor(
    private readonly storage: Storage,
    opts: KeyManagerOptions,
  ) {
    if (!Number.isFinite(opts.rotationPeriodMs) || opts.rotationPeriodMs <= 0) {
      throw new RangeError(`keys ${opts.name}: rotation period must be > 0`);
    }
    if (!Number.isFinite(opts.retentionMs) || opts.retentionMs < 0) {
      throw new RangeError(`keys ${opts.name}: retention must be ≥ 0`);
    }
    this.name = opts.name;
    this.kind = opts.kind;
    this.algorithm = opts.algorithm ?? 'RS256';
    this.rotationPeriodMs = opts.rotationPeriodMs;
    this.retentionMs = opts.retentionMs;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silent;
    this.onRotate = opts.onRotate;
    this.refreshIntervalMs = Math.max(
      1,
      opts.refreshIntervalMs ?? Math.min(30_000, Math.floor(opts.rotationPeriodMs / 4)),
    );
  }

  /** Rotations this process wrote to storage. */
  get rotations(): number {
    return this.rotationCount;
  }

  /** Ensures the key set exists (creates it or adopts another replica's), rotates if due, starts the timer. */
  async start(): Promise<void> {
    await this.refreshNow();
    this.stop(); // start() twice keeps a single timer
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * The cached key set; re-read (and rotated) first when none is cached or the cached one says a rotation
   * is due. If that refresh fails while a set is cached, the cached set is returned (signing goes on with
   * the pre-published key) and the failure is logged.
   */
  async current(): Promise<KeySet> {
    const cached = this.cached;
    if (cached !== undefined && !isRotationDue(cached, this.clock.now())) return cached;
    if (cached === undefined) return this.refresh();
    try {
      return await this.refresh();
    } catch (err) {
      this.logger.warn(
        { keySet: this.name, err },
        'keys: refreshing a due key set failed; using the cached one',
      );
      return cached;
    }
  }

  /** The cached set without any I/O (undefined before start()). */
  cachedKeySet(): KeySet | undefined {
    return this.cached;
  }

  /** Re-reads storage now (creating the set if missing, rotating if due). */
  async refreshNow(): Promise<void> {
    await this.refresh();
  }

  /** Single flight: concurrent callers share one read/rotate. */
  private refresh(): Promise<KeySet> {
    if (this.inflight === undefined) {
      this.inflight = this.load().finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private async load(): Promise<KeySet> {
    let ks = await this.readOrCreate();
    if (isRotationDue(ks, this.clock.now())) ks = await this.rotate(ks);
    this.cached = ks;
    return ks;
  }

  private async readOrCreate(): Promise<KeySet> {
    try {
      return await this.storage.getKeySet(this.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const now = this.clock.now();
    const next = new Date(now.getTime() + this.rotationPeriodMs);
    const [a, b] = await Promise.all([this.generate(now, now), this.generate(next, now)]);
    const ks = initialKeySet(this.name, now, this.rotationPeriodMs, a, b);
    try {
      await this.storage.createKeySet(ks);
      this.logger.info(
        { keySet: this.name, active: a.kid, next: b.kid, nextRotation: ks.nextRotation.toISOString() },
        'keys: created key set',
      );
      return ks;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      this.logger.debug({ keySet: this.name }, 'keys: key set created by another replica; adopting it');
      return this.storage.getKeySet(this.name);
    }
  }

  private async rotate(read: KeySet): Promise<KeySet> {
    // Generated before the update (key generation is slow and async; the updater must be pure and quick).
    const fresh = await this.generate(
      new Date(read.nextRotation.getTime() + this.rotationPeriodMs),
      this.clock.now(),
    );
    const now = this.clock.now();
    const period = this.rotationPeriodMs;
    const retention = this.retentionMs;
    const result = await this.storage.updateKeySet(this.name, (old) =>
      rotateKeySet(old, now, period, retention, fresh),
    );
    if (result.keys.some((k) => k.kid === fresh.kid)) {
      this.rotationCount++;
      this.logger.info(
        {
          keySet: this.name,
          active: activeKey(result, now)?.kid,
          next: nextKey(result, now)?.kid,
          nextRotation: result.nextRotation.toISOString(),
        },
        'keys: rotated',
      );
      this.onRotate?.(result);
    } else {
      this.logger.debug({ keySet: this.name }, 'keys: already rotated by another replica');
    }
    return result;
  }

  private generate(activeFrom: Date, now: Date): Promise<StoredKey> {
    return this.kind === 'signing'
      ? generateSigningKey(this.algorithm, activeFrom, now)
      : generateSealingKey(activeFrom, now);
  }

  /** Next tick: the refresh interval, or sooner when the cached set's rotation falls due. */
  private schedule(): void {
    if (!this.running) return;
    let delay = this.refreshIntervalMs;
    if (this.cached !== undefined) {
      const untilDue = this.cached.nextRotation.getTime() - this.clock.now().getTime();
      // Still due after a refresh means storage failed: retry soon, but never in a tight loop.
      delay = untilDue > 0 ? Math.min(delay, untilDue) : Math.min(1000, delay);
    }
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.refresh();
    } catch (err) {
      this.logger.warn({ keySet: this.name, err }, 'keys: re-reading the key set failed');
    }
    this.schedule();
  }
}
