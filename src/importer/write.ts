import { isAlreadyExists, isNotFound } from '../storage/errors.js';
import { ReadOnlyError } from '../storage/static.js';
import type { Updater } from '../storage/storage.js';
import type { Pacer } from './pool.js';

// Writing one converted entity with conflict checks. An entity Latchkey does not have is created; one it
// has is compared with what Dex holds:
// - the same                      → unchanged (so a second run changes nothing);
// - Dex's is a newer state of it  → updated (only refresh tokens can tell: Dex used them since);
// - they differ otherwise         → a conflict: reported and left alone, unless --overwrite.
// Applying creates first and compares only when the entity exists, so a first import costs one write per
// entity; a dry run only reads. Updates re-decide inside the storage's compare-and-swap, so a change made
// meanwhile (a refresh at a running Latchkey) is never overwritten by a stale decision.

export type Decision =
  | { kind: 'unchanged' }
  | { kind: 'update'; reason: string }
  | { kind: 'conflict'; fields: string[]; reason?: string };

export interface Target<E> {
  get(key: string): Promise<E>;
  create(entity: E): Promise<void>;
  update(key: string, updater: Updater<E>): Promise<E>;
  /** How Latchkey's entity compares with the one converted from Dex. */
  decide(existing: E, incoming: E): Decision;
}

export type Outcome =
  | { kind: 'created' }
  | { kind: 'updated'; reason: string }
  | { kind: 'overwritten'; fields: string[] }
  | { kind: 'unchanged' }
  | { kind: 'conflict'; fields: string[]; reason?: string }
  | { kind: 'failed'; message: string };

export interface WriteOptions {
  apply: boolean;
  overwrite: boolean;
  pacer: Pacer;
}

export async function writeEntity<E>(
  target: Target<E>,
  key: string,
  incoming: E,
  opts: WriteOptions,
): Promise<Outcome> {
  try {
    return opts.apply ? await apply(target, key, incoming, opts) : await plan(target, key, incoming, opts);
  } catch (e) {
    if (e instanceof ReadOnlyError) {
      return { kind: 'failed', message: "defined in Latchkey's config file (read-only); change it there" };
    }
    return { kind: 'failed', message: (e as Error).message };
  }
}

async function plan<E>(target: Target<E>, key: string, incoming: E, opts: WriteOptions): Promise<Outcome> {
  const existing = await find(target, key, opts.pacer);
  if (existing === undefined) return { kind: 'created' };
  return outcomeOf(target.decide(existing, incoming), opts.overwrite);
}

async function apply<E>(target: Target<E>, key: string, incoming: E, opts: WriteOptions): Promise<Outcome> {
  // Twice at most: an entity deleted between a refused create and the read is created again.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await opts.pacer.retrying(() => target.create(incoming));
      return { kind: 'created' };
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    const existing = await find(target, key, opts.pacer);
    if (existing === undefined) continue;
    const expected = outcomeOf(target.decide(existing, incoming), opts.overwrite);
    if (expected.kind !== 'updated' && expected.kind !== 'overwritten') return expected;
    let wrote: Outcome | undefined;
    await opts.pacer.retrying(() =>
      target.update(key, (old) => {
        const now = outcomeOf(target.decide(old, incoming), opts.overwrite);
        wrote = now;
        return now.kind === 'updated' || now.kind === 'overwritten' ? incoming : old;
      }),
    );
    return wrote ?? expected;
  }
  return { kind: 'failed', message: 'it was created and deleted again while being imported' };
}

function outcomeOf(d: Decision, overwrite: boolean): Outcome {
  switch (d.kind) {
    case 'unchanged':
      return d;
    case 'update':
      return { kind: 'updated', reason: d.reason };
    case 'conflict':
      return overwrite ? { kind: 'overwritten', fields: d.fields } : d;
  }
}

async function find<E>(target: Target<E>, key: string, pacer: Pacer): Promise<E | undefined> {
  try {
    return await pacer.retrying(() => target.get(key));
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** The names of the fields whose values differ (compared as JSON with sorted keys). */
export function differingFields<T extends object>(
  a: T,
  b: T,
  fields: readonly (keyof T & string)[],
): string[] {
  return fields.filter((f) => canonical(a[f]) !== canonical(b[f]));
}

/** JSON with object keys sorted, bytes as base64, dates as ISO strings: equal values, equal text. */
export function canonical(v: unknown): string {
  return JSON.stringify(normalise(v)) ?? 'undefined';
}

function normalise(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const tag = Object.prototype.toString.call(v);
  if (tag === '[object Date]') return (v as Date).toISOString();
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (Array.isArray(v)) return v.map(normalise);
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => [k, normalise(x)]),
  );
}
