import { createHash, randomBytes } from 'node:crypto';
import { DeviceFlow, newUserCode, normalizeUserCode } from '../../src/oauth/device.js';
import type { Authorization } from '../../src/tokens/authorization.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import { ManualClock } from '../../src/util/clock.js';
import { randomIds } from '../../src/util/ids.js';

const T0 = new Date('2030-01-01T00:00:00Z');
const LIFETIME = 5 * 60_000;
const noPKCE = { codeChallenge: '', codeChallengeMethod: '' };
const grant: Authorization = {
  clientID: 'kubernetes',
  scopes: ['openid'],
  claims: {
    userID: 'u1',
    username: 'U',
    preferredUsername: 'u',
    email: 'u@example.com',
    emailVerified: true,
    groups: [],
  },
  connectorID: 'local',
  nonce: '',
};

function setup() {
  const storage = new MemoryStorage();
  const clock = new ManualClock(T0);
  return { storage, clock, flow: new DeviceFlow(storage, LIFETIME, clock, randomIds) };
}

const errorOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof OAuthError) return e.error;
    throw e;
  }
  return 'no error';
};

describe('user codes', () => {
  it('are XXXX-XXXX from the unambiguous alphabet', () => {
    for (let i = 0; i < 200; i++)
      expect(newUserCode()).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  });
  it('accept what users type and refuse anything else', () => {
    expect(normalizeUserCode(' bcdf ghjk ')).toBe('BCDF-GHJK');
    expect(normalizeUserCode('bcdfghjk')).toBe('BCDF-GHJK');
    for (const bad of ['', 'BCDF-GHJ', 'ABCD-EFGH', 'BCDF-GHJKL', 42, 'x'.repeat(100)])
      expect(normalizeUserCode(bad)).toBeUndefined();
  });
});

describe('DeviceFlow', () => {
  it('stores only the digest of the device code', async () => {
    const { storage, flow } = setup();
    const { deviceCode, userCode } = await flow.start('kubernetes', ['openid'], noPKCE);
    const request = await storage.getDeviceRequest(userCode);
    expect(request.deviceCode).not.toBe(deviceCode);
    expect(request.deviceCode).toBe(createHash('sha256').update(deviceCode).digest('base64url'));
  });

  it('answers pending, slows a fast poller down, and does not write while pending', async () => {
    const { storage, clock, flow } = setup();
    const { deviceCode } = await flow.start('kubernetes', ['openid'], noPKCE);
    let writes = 0;
    const update = storage.updateDeviceToken.bind(storage);
    storage.updateDeviceToken = (...a) => (writes++, update(...a));
    expect(await errorOf(flow.poll(deviceCode, 'kubernetes', undefined))).toBe('authorization_pending');
    clock.advance(1000);
    expect(await errorOf(flow.poll(deviceCode, 'kubernetes', undefined))).toBe('slow_down');
    clock.advance(6000);
    // The interval grew to 10 s: 6 s later is still too fast.
    expect(await errorOf(flow.poll(deviceCode, 'kubernetes', undefined))).toBe('slow_down');
    // Each slow_down adds 5 s (RFC 8628 §3.5): now 15 s.
    clock.advance(14_000);
    expect(await errorOf(flow.poll(deviceCode, 'kubernetes', undefined))).toBe('slow_down');
    clock.advance(21_000);
    expect(await errorOf(flow.poll(deviceCode, 'kubernetes', undefined))).toBe('authorization_pending');
    expect(writes).toBe(0);
  });

  it('expires with expired_token', async () => {
    const { clock, flow } = setup();
    const { deviceCode } = await flow.start('kubernetes', ['openid'], noPKCE);
    clock.advance(LIFETIME + 1);
    expect(await errorOf(flow.poll(deviceCode, 'kubernetes', undefined))).toBe('expired_token');
  });

  it('hands out the grant once, to its own client, after the PKCE check', async () => {
    const { flow } = setup();
    const verifier = randomBytes(32).toString('base64url');
    const pkce = {
      codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      codeChallengeMethod: 'S256',
    };
    const { deviceCode, userCode } = await flow.start('kubernetes', ['openid'], pkce);
    await flow.complete((await flow.request(userCode))!, grant);
    expect(await errorOf(flow.poll(deviceCode, 'other-client', verifier))).toBe('invalid_grant');
    expect(await errorOf(flow.poll(deviceCode, 'kubernetes', 'x'.repeat(43)))).toBe('invalid_grant');
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => flow.poll(deviceCode, 'kubernetes', verifier)),
    );
    expect(
      results
        .filter((r) => r.status === 'fulfilled')
        .map((r) => (r as PromiseFulfilledResult<Authorization>).value),
    ).toEqual([grant]);
  });

  it('tells a denied device access_denied, once', async () => {
    const { flow } = setup();
    const { deviceCode, userCode } = await flow.start('kubernetes', ['openid'], noPKCE);
    await flow.deny((await flow.request(userCode))!);
    expect(await errorOf(flow.poll(deviceCode, 'kubernetes', undefined))).toBe('access_denied');
    expect(await errorOf(flow.poll(deviceCode, 'kubernetes', undefined))).toBe('invalid_grant');
  });

  it('refuses to finish a device login twice', async () => {
    const { flow } = setup();
    const { userCode } = await flow.start('kubernetes', ['openid'], noPKCE);
    const request = (await flow.request(userCode))!;
    await flow.complete(request, grant);
    expect(await errorOf(flow.deny(request))).toBe('invalid_request');
  });

  it('forgets a request once it has expired', async () => {
    const { clock, flow } = setup();
    const { userCode } = await flow.start('kubernetes', ['openid'], noPKCE);
    expect(await flow.request(userCode)).toBeDefined();
    clock.advance(LIFETIME + 1);
    expect(await flow.request(userCode)).toBeUndefined();
  });
});
