import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';

// The password database's bcrypt rules, as Dex applies them at login.

/** Dex refuses to log in with hashes cheaper than this (too weak) or dearer (a denial-of-service lever). */
export const MIN_COST = 10;
export const MAX_COST = 16;

/**
 * A valid cost-10 hash of a random string nobody knows. Comparing against it costs what a real comparison
 * costs, so an unknown user, an empty password or a refused hash answer as slowly as a wrong password —
 * as long as the real hashes are cost 10 too: see dummyHash for the others.
 */
export const DUMMY_HASH = '$2b$10$7d4orws9.vfd4k0bGJowA.TCExzEqGG007lECmtOnEDnEaLx8eNIm';

/** Dummy hashes made so far, one per cost, shared by every connector of the process. */
const dummies = new Map<number, Promise<string>>([[MIN_COST, Promise.resolve(DUMMY_HASH)]]);

/**
 * A hash of a random string nobody knows, at `cost` (MIN_COST..MAX_COST): each doubling of the cost doubles
 * a comparison's time, so the dummy must cost what the real hashes cost, or an unknown user answers faster
 * than a known one. Made once per cost (a cost-16 hash takes seconds), on the library's thread pool.
 */
export function dummyHash(cost: number): Promise<string> {
  const bounded = Math.min(MAX_COST, Math.max(MIN_COST, cost));
  let made = dummies.get(bounded);
  if (made === undefined) {
    made = bcrypt.hash(randomBytes(32).toString('base64url'), bounded);
    // A failure is not kept: the next login asks again.
    made.catch(() => dummies.delete(bounded));
    dummies.set(bounded, made);
  }
  return made;
}

/** The cost of a bcrypt hash ("$2b$12$…" → 12), or undefined when it is not one. */
export function bcryptCost(hash: string): number | undefined {
  const m = BCRYPT.exec(hash);
  return m ? Number(m[2]) : undefined;
}

/** Checks a password against a bcrypt hash; injectable so tests can observe that it ran. */
export type CompareFn = (password: string, hash: string) => Promise<boolean>;

export const bcryptCompare: CompareFn = (password, hash) => bcrypt.compare(password, hash);

const BCRYPT = /^\$2([aby])\$(\d\d)\$[./A-Za-z0-9]{53}$/;

export type HashCheck = { ok: true; hash: string } | { ok: false; reason: string };

/**
 * Whether a stored hash may be used, and the form to hand to the bcrypt library. `$2y$` (PHP, htpasswd) is
 * the same algorithm as `$2b$`, but the library answers false for it, so it is rewritten.
 */
export function checkHash(stored: string): HashCheck {
  const m = BCRYPT.exec(stored);
  if (!m) return { ok: false, reason: 'the stored password hash is not a bcrypt hash' };
  const cost = Number(m[2]);
  if (cost < MIN_COST || cost > MAX_COST) {
    return { ok: false, reason: `bcrypt cost ${cost} is outside ${MIN_COST}..${MAX_COST}` };
  }
  return { ok: true, hash: m[1] === 'y' ? `$2b$${stored.slice(4)}` : stored };
}
