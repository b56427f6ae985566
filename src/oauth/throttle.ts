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
    return this.perAccount.exceeded(accountKey(connectorID, username), now) || this.perIP.exceeded(ip, now);
  }

  recordFailure(connectorID: string, username: string, ip: string): void {
    const now = this.clock.now().getTime();
    this.perAccount.add(accountKey(connectorID, username), now);
    this.perIP.add(ip, now);
  }

  recordSuccess(connectorID: string, username: string): void {
    this.perAccount.clear(accountKey(connectorID, username));
  }
}

function accountKey(connectorID: string, username: string): string {
  return `${connectorID}\u0000${username.trim().toLowerCase()}`;
}
