import { PasswordThrottle, RequestLimiter } from '../../src/oauth/throttle.js';
import { ManualClock } from '../../src/util/clock.js';

const WINDOW = 15 * 60_000;
const LIMITS = { passwordFailuresPerAccount: 5, passwordFailuresPerIP: 12, window: WINDOW };
const IP = '203.0.113.7';

let clock: ManualClock;
let throttle: PasswordThrottle;
beforeEach(() => {
  clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
  throttle = new PasswordThrottle(LIMITS, clock);
});

/** `null` stands for a shared address (the throttle is given none). */
type Address = string | null;

/** Whether an attempt would be refused now (a probe: an allowed attempt is given back as an error). */
function throttled(username: string, ip: Address = IP, connector = 'local'): boolean {
  const a = throttle.begin(connector, username, ip ?? undefined);
  if (!a.throttled) throttle.finish(a.ticket, 'error');
  return a.throttled;
}

/** `n` failed attempts, each allowed when it was made. */
function fail(n: number, username: string, ip: Address = IP, connector = 'local'): void {
  for (let i = 0; i < n; i++) {
    const a = throttle.begin(connector, username, ip ?? undefined);
    if (a.throttled) throw new Error(`attempt ${i + 1} for ${username} was throttled`);
    throttle.finish(a.ticket, 'failure');
  }
}

function succeed(username: string, ip: Address = IP): void {
  const a = throttle.begin('local', username, ip ?? undefined);
  if (a.throttled) throw new Error(`${username} was throttled`);
  throttle.finish(a.ticket, 'success');
}

describe('per account: a progressive delay, never a lock for the whole window', () => {
  it('makes the attempt after 5 failures wait 5 s, then doubles the wait per failure up to 5 minutes', () => {
    fail(5, 'alice');
    const refused = throttle.begin('local', 'alice', IP);
    expect(refused).toEqual({ throttled: true, retryAfterSeconds: 5 });
    // From anywhere, and with no address at all: the account is what is guarded.
    expect(throttled('alice', '198.51.100.1')).toBe(true);
    expect(throttled('alice', null)).toBe(true);
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      const a = throttle.begin('local', 'alice', undefined);
      expect(a.throttled).toBe(true);
      const wait = (a as { retryAfterSeconds: number }).retryAfterSeconds;
      waits.push(wait);
      clock.advance(wait * 1000);
      fail(1, 'alice', null);
    }
    expect(waits).toEqual([5, 10, 20, 40, 80, 160, 300, 300, 300]);
  });

  it('does not throttle other accounts, or the same name on another connector', () => {
    fail(5, 'alice');
    expect(throttled('bob')).toBe(false);
    expect(throttled('alice', IP, 'ldap')).toBe(false);
  });

  it('clears the account on a success', () => {
    fail(4, 'alice');
    succeed('alice');
    fail(4, 'alice');
    expect(throttled('alice')).toBe(false);
    fail(1, 'alice');
    expect(throttled('alice')).toBe(true);
  });

  it('does not clear or count anything when the directory fails (an error)', () => {
    fail(4, 'alice');
    const a = throttle.begin('local', 'alice', IP);
    expect(a.throttled).toBe(false);
    if (!a.throttled) throttle.finish(a.ticket, 'error');
    expect(throttled('alice')).toBe(false);
    fail(1, 'alice');
    expect(throttled('alice')).toBe(true);
  });

  it('compares usernames case-insensitively and trimmed', () => {
    fail(1, 'Alice@Example.com');
    fail(1, ' alice@example.com');
    fail(1, 'ALICE@EXAMPLE.COM ');
    fail(1, '\talice@example.COM\n');
    expect(throttled('alice@example.com')).toBe(false);
    fail(1, 'alice@example.com');
    expect(throttled('  ALICE@example.com ')).toBe(true);
  });

  it('remembers failures for a window after the last one, then forgets them', () => {
    fail(5, 'alice');
    clock.advance(WINDOW - 1);
    // Still remembered: the sixth failure brings the second wait (10 s).
    fail(1, 'alice');
    expect(throttle.begin('local', 'alice', IP)).toEqual({ throttled: true, retryAfterSeconds: 10 });
    clock.advance(WINDOW);
    // Forgotten: five free failures again.
    fail(5, 'alice');
    expect(throttled('alice')).toBe(true);
  });

  it('lets only the free failures through when guesses arrive in parallel', () => {
    const started = Array.from({ length: 20 }, () => throttle.begin('local', 'alice@example.com', IP));
    expect(started.filter((a) => !a.throttled)).toHaveLength(5);
    for (const a of started) if (!a.throttled) throttle.finish(a.ticket, 'failure');
    expect(throttled('alice@example.com')).toBe(true);
  });
});

describe('per client address, only when the address is the client’s own', () => {
  it('throttles an address after its limit of failures across many accounts, until the window ends', () => {
    for (let i = 0; i < 12; i++) fail(1, `user-${i}`);
    expect(throttle.begin('local', 'fresh-user', IP)).toEqual({
      throttled: true,
      retryAfterSeconds: WINDOW / 1000,
    });
    expect(throttled('another', IP, 'ldap')).toBe(true);
    expect(throttled('fresh-user', '203.0.113.8')).toBe(false);
    clock.advance(WINDOW);
    expect(throttled('fresh-user')).toBe(false);
  });

  it('never limits a shared address (undefined): strangers behind one NAT cannot lock each other out', () => {
    for (let i = 0; i < 100; i++) fail(1, `user-${i}`, null);
    expect(throttled('someone-else', null)).toBe(false);
  });

  it('is not refunded by a success beyond the success’s own attempt', () => {
    for (let i = 0; i < 11; i++) fail(1, `user-${i}`);
    // A valid account's logins do not reopen the budget for more guesses.
    for (let i = 0; i < 5; i++) succeed('mallory');
    fail(1, 'user-11');
    expect(throttled('user-12')).toBe(true);
  });

  it('counts an IPv6 client per /64, so rotating addresses does not escape the limit', () => {
    for (let i = 0; i < 12; i++) fail(1, `user-${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`);
    expect(throttled('fresh', '2001:db8:1:2:ffff:ffff:ffff:fffe')).toBe(true);
    expect(throttled('fresh', '2001:0DB8:0001:0002:0:0:0:1')).toBe(true);
    expect(throttled('fresh', '2001:db8:1:3::1')).toBe(false);
    expect(throttled('fresh', '2001:db8::1')).toBe(false);
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', () => {
    for (let i = 0; i < 6; i++) fail(1, `user-${i}`, '192.0.2.10');
    for (let i = 6; i < 12; i++) fail(1, `user-${i}`, '::ffff:192.0.2.10');
    expect(throttled('fresh', '192.0.2.10')).toBe(true);
    expect(throttled('fresh', '::ffff:c000:20a')).toBe(true);
    expect(throttled('fresh', '192.0.2.11')).toBe(false);
  });
});

describe('memory', () => {
  it('holds one counter per account and per address, whatever the username’s length', () => {
    fail(3, 'alice', '192.0.2.1');
    fail(2, 'x'.repeat(100_000), '192.0.2.1');
    fail(1, 'bob', '192.0.2.2');
    expect(throttle.trackedKeys).toBe(5);
    succeed('bob', null);
    expect(throttle.trackedKeys).toBe(4);
  });

  it('has a hard size: expired entries go first, then the oldest, and a full table never refuses', () => {
    const small = new PasswordThrottle(LIMITS, clock, 100);
    const failOn = (user: string, ip: string) => {
      const a = small.begin('local', user, ip);
      if (a.throttled) throw new Error('throttled');
      small.finish(a.ticket, 'failure');
    };
    for (let i = 0; i < 5; i++) failOn('victim', '192.0.2.1');
    for (let i = 0; i < 1_000; i++) failOn(`junk-${i}`, `10.0.${i >> 8}.${i & 255}`);
    expect(small.trackedKeys).toBeLessThanOrEqual(200);
    // The oldest entries were forgotten to make room: the victim's counter among them.
    expect(small.begin('local', 'victim', '192.0.2.9').throttled).toBe(false);
    // Live entries survive while there is room: a recent one still counts.
    for (let i = 0; i < 5; i++) failOn('recent', '192.0.2.3');
    expect(small.begin('local', 'recent', '192.0.2.4').throttled).toBe(true);
  });
});

describe('RequestLimiter', () => {
  it('allows `limit` requests per key and window, in a bounded table', () => {
    const limiter = new RequestLimiter(3, 60_000, clock, 10);
    expect([1, 2, 3, 4].map(() => limiter.take('a'))).toEqual([true, true, true, false]);
    expect(limiter.exhausted('a')).toBe(true);
    expect(limiter.take('b')).toBe(true);
    clock.advance(60_000);
    expect(limiter.take('a')).toBe(true);
    for (let i = 0; i < 100; i++) limiter.take(`k-${i}`);
    expect(limiter.take('a')).toBe(true);
  });
});
