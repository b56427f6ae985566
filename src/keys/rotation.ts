// The rotation model of a key set, as pure functions of (key set, now): no I/O, no randomness, no clock.
// KeyManager feeds them keys it generated and the time; tests drive them with fixed dates.
//
// A key set always holds
//   - the *active* key: the latest key whose activeFrom ≤ now and that is not retired — it signs/seals;
//   - the *next* key: activeFrom = nextRotation, already published (in the JWKS) but not yet signing;
//   - retired keys that must stay published until every token they signed has expired (publishUntil).
// At a rotation step (now ≥ nextRotation) the next key becomes active, the previous active key is retired
// (retiredAt = now, publishUntil = now + retention), a freshly generated key becomes the next key, and
// nextRotation moves one period on. Keys past publishUntil are dropped.
//
// Because the next key's activeFrom is known in advance, a replica that has not re-read storage switches to
// it at the right instant: activeKey() is computed from the cached set and the current time.
//
// Catch-up: a key may only start signing after it has been published long enough for every relying party's
// cached JWKS to have expired (they cache it for jwksMaxAgeSeconds(period) ≤ period / 2). When the step is
// taken on time (now < nextRotation + period / 4) the grid is kept: nextRotation += period. When it is taken
// late (every replica was down), the grid restarts at now + period, so the new next key is published one full
// step before it signs. Either way the new next key is in storage more than 3/4 of a step before it signs,
// and every replica (re-reading at least every period / 4) serves it for more than half a step.

import type { KeySet, KeySetName, StoredKey } from '../storage/storage.js';

const ms = (d: Date): number => d.getTime();

/** Not retired at `now` (a key retired at `now` or earlier no longer signs). */
const inService = (k: StoredKey, now: Date): boolean =>
  k.retiredAt === undefined || ms(k.retiredAt) > ms(now);

/** Still to be published (and accepted for verification/unsealing) at `now`. */
export function isPublished(k: StoredKey, now: Date): boolean {
  return k.publishUntil === undefined || ms(k.publishUntil) > ms(now);
}

/** Later activeFrom wins; ties (never produced by this module) go to the later createdAt, then the kid. */
function later(a: StoredKey, b: StoredKey): StoredKey {
  if (ms(a.activeFrom) !== ms(b.activeFrom)) return ms(a.activeFrom) > ms(b.activeFrom) ? a : b;
  if (ms(a.createdAt) !== ms(b.createdAt)) return ms(a.createdAt) > ms(b.createdAt) ? a : b;
  return a.kid >= b.kid ? a : b;
}

/**
 * The key set written the first time: `active` signs from `now` (the only key ever used without prior
 * publication), `next` is published now and signs from `now + period`. The keys' activeFrom are overwritten.
 */
export function initialKeySet(
  name: KeySetName,
  now: Date,
  periodMs: number,
  active: StoredKey,
  next: StoredKey,
): KeySet {
  assertPeriod(periodMs);
  if (active.kid === next.kid) throw new Error('initialKeySet: active and next key must differ');
  const nextRotation = new Date(ms(now) + periodMs);
  return {
    name,
    keys: [
      { ...active, activeFrom: new Date(ms(now)) },
      { ...next, activeFrom: new Date(ms(nextRotation)) },
    ],
    nextRotation,
  };
}

/** A rotation step is due once `now` reaches `nextRotation`. */
export function isRotationDue(ks: KeySet, now: Date): boolean {
  return ms(now) >= ms(ks.nextRotation);
}

/** The key that signs (or seals) at `now`: the latest activeFrom ≤ now among keys not retired. */
export function activeKey(ks: KeySet, now: Date): StoredKey | undefined {
  let best: StoredKey | undefined;
  for (const k of ks.keys) {
    if (ms(k.activeFrom) > ms(now) || !inService(k, now) || !isPublished(k, now)) continue;
    best = best === undefined ? k : later(best, k);
  }
  return best;
}

/** The key published ahead of time that will sign next (earliest activeFrom > now), if any. */
export function nextKey(ks: KeySet, now: Date): StoredKey | undefined {
  let best: StoredKey | undefined;
  for (const k of ks.keys) {
    if (ms(k.activeFrom) <= ms(now) || !inService(k, now)) continue;
    if (best === undefined || ms(k.activeFrom) < ms(best.activeFrom)) best = k;
  }
  return best;
}

/** Every key not past its publishUntil: active, next and retired-but-retained keys, in stored order. */
export function publishedKeys(ks: KeySet, now: Date): StoredKey[] {
  return ks.keys.filter((k) => isPublished(k, now));
}

/** When the next rotation after one taken at `now` (with the set due at `due`) happens; see the header. */
export function followingRotation(due: Date, now: Date, periodMs: number): Date {
  const late = ms(now) - ms(due);
  return late < periodMs / 4 ? new Date(ms(due) + periodMs) : new Date(ms(now) + periodMs);
}

/**
 * One rotation step at `now`. Returns `ks` itself (the same object: "no write" for Storage.update*) when no
 * step is due, so it can be the updater of updateKeySet as is. `fresh` becomes the new next key (its
 * activeFrom is overwritten); it must be a key the set does not hold yet.
 */
export function rotateKeySet(
  ks: KeySet,
  now: Date,
  periodMs: number,
  retentionMs: number,
  fresh: StoredKey,
): KeySet {
  assertPeriod(periodMs);
  if (!isRotationDue(ks, now)) return ks;
  if (ks.keys.some((k) => k.kid === fresh.kid))
    throw new Error('rotateKeySet: the new key is already in the set');

  const promoted = activeKey(ks, now);
  const nextRotation = followingRotation(ks.nextRotation, now, periodMs);
  const publishUntil = new Date(ms(now) + retentionMs);
  const keys: StoredKey[] = [];
  for (const k of ks.keys) {
    if (!isPublished(k, now)) continue; // past retention: dropped
    if (k !== promoted && inService(k, now) && ms(k.activeFrom) <= ms(now)) {
      // The previous active key (and any other superseded one): stops signing, stays verifiable.
      keys.push({ ...k, retiredAt: new Date(ms(now)), publishUntil });
    } else {
      keys.push(k);
    }
  }
  if (promoted === undefined) {
    // No key can sign (an empty or damaged set): the new key signs at once, as at initialisation.
    keys.push({ ...fresh, activeFrom: new Date(ms(now)) });
  } else {
    keys.push({ ...fresh, activeFrom: nextRotation });
  }
  return { name: ks.name, keys, nextRotation };
}

/** Drops keys past publishUntil; returns `ks` itself when there is nothing to drop. */
export function pruneKeySet(ks: KeySet, now: Date): KeySet {
  const keys = publishedKeys(ks, now);
  return keys.length === ks.keys.length ? ks : { ...ks, keys };
}

/**
 * The JWKS Cache-Control max-age (seconds) for a rotation period: at most half a period, which is strictly
 * shorter than the time every replica publishes a next key before it signs (see the header); capped at
 * 10 minutes like Dex; at least 1 (so periods under 2 s cannot keep the guarantee).
 */
export function jwksMaxAgeSeconds(periodMs: number): number {
  return Math.max(1, Math.min(600, Math.floor(periodMs / 2000)));
}

function assertPeriod(periodMs: number): void {
  if (!Number.isFinite(periodMs) || periodMs <= 0)
    throw new RangeError(`rotation period must be > 0, got ${periodMs}`);
}
