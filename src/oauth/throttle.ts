import { isIP } from 'node:net';
import type { ThrottlingConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';

/** Bounded memory: when a table grows past this, expired windows are swept before adding. */
const SWEEP_ABOVE = 10_000;

class WindowCounter {
  private readonly entries = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  exceeded(key: string, now: number): boolean {
    const e = this.entries.get(key);
    return e !== undefined && e.resetAt > now && e.count >= this.limit;
  }

  add(key: string, now: number): void {
    const e = this.entries.get(key);
    if (e && e.resetAt > now) {
      e.count++;
      return;
    }
    if (this.entries.size >= SWEEP_ABOVE) this.sweep(now);
    this.entries.set(key, { count: 1, resetAt: now + this.windowMs });
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  /** Takes back one count (a reserved attempt that turned out to succeed). */
  subtract(key: string, now: number): void {
    const e = this.entries.get(key);
    if (e && e.resetAt > now && e.count > 0) e.count--;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(now: number): void {
    for (const [k, e] of this.entries) if (e.resetAt <= now) this.entries.delete(k);
  }
}

/**
 * Limits password guesses per account and per client IP (Dex has none: dexidp/dex#1671). Counters are in
 * memory per replica. Only failures count; a success clears the account's counter. The caller asks before
 * checking a password, so a throttled account is refused without a bcrypt compare or an LDAP bind, and gives
 * the same answer whether or not the account exists.
 */
export class PasswordThrottle {
  private readonly perAccount: WindowCounter;
  private readonly perIP: WindowCounter;

  constructor(
    limits: ThrottlingConfig,
    private readonly clock: Clock,
  ) {
    this.perAccount = new WindowCounter(limits.passwordFailuresPerAccount, limits.window);
    this.perIP = new WindowCounter(limits.passwordFailuresPerIP, limits.window);
  }

  isThrottled(connectorID: string, username: string, ip: string): boolean {
    const now = this.clock.now().getTime();
    return (
      this.perAccount.exceeded(accountKey(connectorID, username), now) || this.perIP.exceeded(ipKey(ip), now)
    );
  }

  recordFailure(connectorID: string, username: string, ip: string): void {
    const now = this.clock.now().getTime();
    this.perAccount.add(accountKey(connectorID, username), now);
    this.perIP.add(ipKey(ip), now);
  }

  recordSuccess(connectorID: string, username: string): void {
    this.perAccount.clear(accountKey(connectorID, username));
  }

  /**
   * Checks and reserves one attempt in the same step, before the password is checked: guesses sent in
   * parallel each take a slot, so they cannot all pass the check while the first bcrypt compare or LDAP bind
   * is still running. Returns undefined when throttled; otherwise call the returned function with the outcome
   * (a success gives the slot back and clears the account's failures).
   */
  begin(connectorID: string, username: string, ip: string): ((succeeded: boolean) => void) | undefined {
    if (this.isThrottled(connectorID, username, ip)) return undefined;
    this.recordFailure(connectorID, username, ip);
    return (succeeded) => {
      if (!succeeded) return;
      this.perIP.subtract(ipKey(ip), this.clock.now().getTime());
      this.recordSuccess(connectorID, username);
    };
  }

  /** Counters held in memory (accounts plus addresses): for tests and metrics. */
  get trackedKeys(): number {
    return this.perAccount.size + this.perIP.size;
  }
}

function accountKey(connectorID: string, username: string): string {
  return `${connectorID}\u0000${username.trim().toLowerCase()}`;
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
 * A plain per-key budget within a window (device authorization requests per client and IP, wrong user codes
 * per IP). Counters in memory per replica, bounded like the password counters.
 */
export class RequestLimiter {
  private readonly counter: WindowCounter;

  constructor(
    limit: number,
    windowMs: number,
    private readonly clock: Clock,
  ) {
    this.counter = new WindowCounter(limit, windowMs);
  }

  /** False when the key has used its budget; otherwise counts this request. */
  take(key: string): boolean {
    const now = this.clock.now().getTime();
    if (this.counter.exceeded(key, now)) return false;
    this.counter.add(key, now);
    return true;
  }

  /** Whether the key's budget is spent, without counting anything. */
  exhausted(key: string): boolean {
    return this.counter.exceeded(key, this.clock.now().getTime());
  }

  add(key: string): void {
    this.counter.add(key, this.clock.now().getTime());
  }
}

/** Per-IP key with IPv6 grouped by /64 (see ipKey). */
export const throttleKeyForIP = (ip: string): string => ipKey(ip);
