import { PasswordThrottle } from '../../src/oauth/throttle.js';
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

/** Fails `n` times, checking before each attempt (as the login handlers do) that it was allowed. */
function fail(n: number, username: string, ip = IP, connector = 'local'): void {
  for (let i = 0; i < n; i++) {
    expect(throttle.isThrottled(connector, username, ip)).toBe(false);
    throttle.recordFailure(connector, username, ip);
  }
}

describe('per account', () => {
  it('throttles the 6th attempt after 5 failures', () => {
    fail(5, 'alice');
    expect(throttle.isThrottled('local', 'alice', IP)).toBe(true);
    // From anywhere: the account is what is guarded.
    expect(throttle.isThrottled('local', 'alice', '198.51.100.1')).toBe(true);
  });

  it('does not throttle other accounts, or the same name on another connector', () => {
    fail(5, 'alice');
    expect(throttle.isThrottled('local', 'bob', IP)).toBe(false);
    expect(throttle.isThrottled('ldap', 'alice', IP)).toBe(false);
  });

  it('clears the account on a success', () => {
    fail(4, 'alice');
    throttle.recordSuccess('local', 'alice');
    fail(4, 'alice');
    expect(throttle.isThrottled('local', 'alice', IP)).toBe(false);
    throttle.recordFailure('local', 'alice', IP);
    expect(throttle.isThrottled('local', 'alice', IP)).toBe(true);
    throttle.recordSuccess('local', 'alice');
    expect(throttle.isThrottled('local', 'alice', IP)).toBe(false);
  });

  it('compares usernames case-insensitively and trimmed', () => {
    throttle.recordFailure('local', 'Alice@Example.com', IP);
    throttle.recordFailure('local', ' alice@example.com', IP);
    throttle.recordFailure('local', 'ALICE@EXAMPLE.COM ', IP);
    throttle.recordFailure('local', '\talice@example.COM\n', IP);
    expect(throttle.isThrottled('local', 'alice@example.com', IP)).toBe(false);
    throttle.recordFailure('local', 'alice@example.com', IP);
    expect(throttle.isThrottled('local', '  ALICE@example.com ', IP)).toBe(true);
    throttle.recordSuccess('local', 'ALICE@EXAMPLE.COM');
    expect(throttle.isThrottled('local', 'alice@example.com', IP)).toBe(false);
  });

  it('forgets failures when the window (counted from the first failure) has passed', () => {
    fail(4, 'alice');
    clock.advance(WINDOW - 1);
    fail(1, 'alice');
    expect(throttle.isThrottled('local', 'alice', IP)).toBe(true);
    clock.advance(1);
    expect(throttle.isThrottled('local', 'alice', IP)).toBe(false);
    // A new window starts with the next failure.
    fail(4, 'alice');
    clock.advance(WINDOW - 1);
    throttle.recordFailure('local', 'alice', IP);
    expect(throttle.isThrottled('local', 'alice', IP)).toBe(true);
  });
});

describe('per client IP', () => {
  it('throttles an address after its limit of failures across many accounts', () => {
    for (let i = 0; i < 12; i++) fail(1, `user-${i}`);
    expect(throttle.isThrottled('local', 'fresh-user', IP)).toBe(true);
    expect(throttle.isThrottled('ldap', 'another', IP)).toBe(true);
    expect(throttle.isThrottled('local', 'fresh-user', '203.0.113.8')).toBe(false);
  });

  it('is not cleared by a success (one known password must not reset the guessing budget)', () => {
    for (let i = 0; i < 12; i++) fail(1, `user-${i}`);
    throttle.recordSuccess('local', 'user-0');
    expect(throttle.isThrottled('local', 'user-0', IP)).toBe(true);
  });

  it('expires with the window', () => {
    for (let i = 0; i < 12; i++) fail(1, `user-${i}`);
    clock.advance(WINDOW);
    expect(throttle.isThrottled('local', 'fresh-user', IP)).toBe(false);
  });

  it('counts an IPv6 client per /64, so rotating addresses does not escape the limit', () => {
    for (let i = 0; i < 12; i++) fail(1, `user-${i}`, `2001:db8:1:2::${(i + 1).toString(16)}`);
    expect(throttle.isThrottled('local', 'fresh', '2001:db8:1:2:ffff:ffff:ffff:fffe')).toBe(true);
    expect(throttle.isThrottled('local', 'fresh', '2001:0DB8:0001:0002:0:0:0:1')).toBe(true);
    expect(throttle.isThrottled('local', 'fresh', '2001:db8:1:3::1')).toBe(false);
    expect(throttle.isThrottled('local', 'fresh', '2001:db8::1')).toBe(false);
  });

  it('counts IPv4 addresses one by one, and an IPv4-mapped IPv6 address as its IPv4 address', () => {
    for (let i = 0; i < 6; i++) fail(1, `user-${i}`, '192.0.2.10');
    for (let i = 6; i < 12; i++) fail(1, `user-${i}`, '::ffff:192.0.2.10');
    expect(throttle.isThrottled('local', 'fresh', '192.0.2.10')).toBe(true);
    expect(throttle.isThrottled('local', 'fresh', '::ffff:c000:20a')).toBe(true);
    expect(throttle.isThrottled('local', 'fresh', '192.0.2.11')).toBe(false);
    expect(throttle.isThrottled('local', 'fresh', '::ffff:192.0.2.11')).toBe(false);
  });
});

describe('memory', () => {
  const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

  it('holds one counter per account and per address', () => {
    fail(3, 'alice', '192.0.2.1');
    fail(2, 'bob', '192.0.2.1');
    fail(1, 'bob', '192.0.2.2');
    expect(throttle.trackedKeys).toBe(4);
    throttle.recordSuccess('local', 'bob');
    expect(throttle.trackedKeys).toBe(3);
  });

  it('sweeps expired windows once the table is large, keeping live ones', () => {
    for (let i = 0; i < 10_000; i++) throttle.recordFailure('local', `user-${i}`, ipOf(i));
    expect(throttle.trackedKeys).toBe(20_000);
    clock.advance(WINDOW / 2);
    for (let i = 0; i < 5; i++) fail(1, 'late', '192.0.2.1');
    expect(throttle.trackedKeys).toBe(20_002);
    clock.advance(WINDOW / 2);
    // Everything from the first half-window has expired; the next new key triggers the sweep.
    throttle.recordFailure('local', 'one-more', '192.0.2.2');
    expect(throttle.trackedKeys).toBe(4);
    expect(throttle.isThrottled('local', 'late', '198.51.100.1')).toBe(true);
  });
});

describe('PasswordThrottle.begin (check and reserve in one step)', () => {
  const limits = { passwordFailuresPerAccount: 5, passwordFailuresPerIP: 50, window: 15 * 60_000 };

  it('lets only as many parallel guesses through as the limit allows', () => {
    const t = new PasswordThrottle(limits, new ManualClock(new Date('2030-01-01T00:00:00Z')));
    // Twenty guesses arrive before any password check has finished.
    const started = Array.from({ length: 20 }, () => t.begin('local', 'alice@example.com', '192.0.2.1'));
    expect(started.filter(Boolean)).toHaveLength(5);
    for (const finish of started) finish?.(false);
    expect(t.isThrottled('local', 'alice@example.com', '192.0.2.1')).toBe(true);
  });

  it('gives the slot back and clears the account on success', () => {
    const t = new PasswordThrottle(limits, new ManualClock(new Date('2030-01-01T00:00:00Z')));
    for (let i = 0; i < 4; i++) t.begin('local', 'bob@example.com', '192.0.2.2')!(false);
    t.begin('local', 'bob@example.com', '192.0.2.2')!(true);
    for (let i = 0; i < 4; i++) expect(t.begin('local', 'bob@example.com', '192.0.2.2')).toBeDefined();
  });
});
