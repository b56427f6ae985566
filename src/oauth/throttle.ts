import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { ThrottlingConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';
import { BoundedTable } from '../util/bounded-table.js';

// Limits on password guesses (Dex has none: dexidp/dex#1671), in memory per replica. Two guards:
// - per account: after `passwordFailuresPerAccount` failures the next attempt waits, the wait doubling with
//   each further failure up to a cap. A progressive delay, not a lock-out: a stranger guessing at someone's
//   account slows it down for them by minutes at most, never locks it for the whole window.
// - per client address, only when the address is really the client's (a trusted proxy said so, or the peer
//   is a public address): behind a NodePort's source NAT or an ingress every request has the same peer, and
//   a limit on it would let anyone lock everyone out.
// Every table has a hard size; when full, the oldest entries are forgotten first.

/** The first wait after the free failures, doubling per further failure up to MAX_DELAY_MS. */
const FIRST_DELAY_MS = 5_000;
const MAX_DELAY_MS = 5 * 60_000;
/** Entries per table (an account entry is ~100 bytes: keys are fixed-size digests). */
export const MAX_TRACKED = 100_000;

/** A count of events within a fixed window that starts with the first one. */
interface Window {
  count: number;
  resetAt: number;
}

/** A per-key budget of events within a window, in a bounded table. */
class WindowCounter {
  private readonly table: BoundedTable<Window>;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    max: number,
  ) {
    this.table = new BoundedTable(max, (w, now) => w.resetAt <= now);
  }

  /** Milliseconds until the key may act again; 0 when it may now. */
  waitMs(key: string, now: number): number {
    const w = this.table.get(key, now);
    return w !== undefined && w.count >= this.limit ? w.resetAt - now : 0;
  }

  add(key: string, now: number): void {
    const w = this.table.get(key, now);
    if (w) w.count++;
    else this.table.set(key, { count: 1, resetAt: now + this.windowMs }, now);
  }

  /** Takes back one count, if the window it was added in is still the current one. */
  subtract(key: string, now: number, addedAt: number): void {
    const w = this.table.get(key, now);
    if (w && w.count > 0 && w.resetAt - this.windowMs <= addedAt) w.count--;
  }

  get size(): number {
    return this.table.size;
  }
}

interface AccountFailures {
  failures: number;
  /** When the last failure was counted: waits and the window run from it. */
  lastAt: number;
}

/**
 * A reserved attempt, as plain data: what finish() needs to settle it. Plain so that the throttle can live
 * in another process (a replica's primary, when it runs several workers) and the ticket travel there.
 */
export interface AttemptTicket {
  account: string;
  /** The per-address key, when the address was counted. */
  address?: string;
  /** When the attempt was reserved (epoch ms). */
  at: number;
}

/** What a login attempt hears before the password is checked. */
export type AttemptStart =
  { throttled: true; retryAfterSeconds: number } | { throttled: false; ticket: AttemptTicket };

export class PasswordThrottle {
  private readonly accounts: BoundedTable<AccountFailures>;
  private readonly perIP: WindowCounter;

  constructor(
    private readonly limits: Pick<
      ThrottlingConfig,
      'passwordFailuresPerAccount' | 'passwordFailuresPerIP' | 'window'
    >,
    private readonly clock: Clock,
    max = MAX_TRACKED,
  ) {
    this.accounts = new BoundedTable(max, (a, now) => now - a.lastAt >= limits.window);
    this.perIP = new WindowCounter(limits.passwordFailuresPerIP, limits.window, max);
  }

  /**
   * Checks and reserves one attempt in the same step, before the password is checked: guesses sent in
   * parallel each take a slot, so they cannot all pass while the first bcrypt compare or LDAP bind runs.
   * `ip` is the client's address only when it is really the client's (see server/client-ip.ts); undefined
   * leaves the per-address limit out. Settle the ticket with finish().
   */
  begin(connectorID: string, username: string, ip: string | undefined): AttemptStart {
    const now = this.clock.now().getTime();
    const account = accountKey(connectorID, username);
    const address = ip === undefined ? undefined : ipKey(ip);
    const wait = Math.max(this.accountWaitMs(account, now), address ? this.perIP.waitMs(address, now) : 0);
    if (wait > 0) return { throttled: true, retryAfterSeconds: Math.ceil(wait / 1000) };

    const before = this.accounts.get(account, now);
    this.accounts.set(account, { failures: (before?.failures ?? 0) + 1, lastAt: now }, now);
    if (address) this.perIP.add(address, now);
    return { throttled: false, ticket: { account, ...(address ? { address } : {}), at: now } };
  }

  /**
   * The outcome of a reserved attempt: a failure keeps the slot; a success clears the account's failures
   * and gives back its own slot (never other attempts' failures); an error (the directory is down) gives the
   * slot back without clearing anything.
   */
  finish(ticket: AttemptTicket, outcome: 'success' | 'failure' | 'error'): void {
    if (outcome === 'failure') return;
    const later = this.clock.now().getTime();
    if (ticket.address) this.perIP.subtract(ticket.address, later, ticket.at);
    if (outcome === 'success') {
      this.accounts.delete(ticket.account);
      return;
    }
    const current = this.accounts.get(ticket.account, later);
    if (current && current.failures > 0) current.failures--;
  }

  /** Counters held in memory (accounts plus addresses): for tests and metrics. */
  get trackedKeys(): number {
    return this.accounts.size + this.perIP.size;
  }

  private accountWaitMs(key: string, now: number): number {
    const a = this.accounts.get(key, now);
    if (a === undefined || a.failures < this.limits.passwordFailuresPerAccount) return 0;
    const beyond = a.failures - this.limits.passwordFailuresPerAccount;
    const delay = Math.min(FIRST_DELAY_MS * 2 ** beyond, MAX_DELAY_MS);
    return Math.max(0, a.lastAt + delay - now);
  }
}

/** A fixed-size key whatever the username's length: a digest of the connector and the normalised name. */
function accountKey(connectorID: string, username: string): string {
  return createHash('sha256')
    .update(`${connectorID}\u0000${username.trim().toLowerCase()}`)
    .digest('base64url');
}

/**
 * The per-IP counter's key. Any IPv6 host holds at least a /64 and could give every guess a fresh address,
 * so IPv6 addresses are counted per /64; IPv4-mapped addresses count as their IPv4 address.
 */
function ipKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const groups = expandIPv6(ip);
  if (!groups) return ip;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (zone dropped, embedded IPv4 tail converted). */
function expandIPv6(ip: string): number[] | undefined {
  let text = ip.split('%')[0]!;
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (rest === undefined && missing !== 0)) return undefined;
  return [...left, ...new Array<number>(missing).fill(0), ...right];
}

/**
 * A plain per-key budget within a window (device authorization requests per client and address, wrong
 * user codes per address). Counters in memory per replica, in a bounded table.
 */
export class RequestLimiter {
  private readonly counter: WindowCounter;

  constructor(
    limit: number,
    windowMs: number,
    private readonly clock: Clock,
    max = MAX_TRACKED,
  ) {
    this.counter = new WindowCounter(limit, windowMs, max);
  }

  /** False when the key has used its budget; otherwise counts this request. */
  take(key: string): boolean {
    const now = this.clock.now().getTime();
    if (this.counter.waitMs(key, now) > 0) return false;
    this.counter.add(key, now);
    return true;
  }

  /** Whether the key's budget is spent, without counting anything. */
  exhausted(key: string): boolean {
    return this.counter.waitMs(key, this.clock.now().getTime()) > 0;
  }

  add(key: string): void {
    this.counter.add(key, this.clock.now().getTime());
  }
}

/** Per-IP key with IPv6 grouped by /64 (see ipKey). */
export const throttleKeyForIP = (ip: string): string => ipKey(ip);
