import { ConfigError, parseConfig } from '../../src/config/load.js';
import { encodeRefreshToken } from '../../src/tokens/refresh-token-wire.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';

// The token bucket in front of /token and /device (issue 13 §3): per client address when the address is the
// client's own (here: named by the trusted proxy on 127.0.0.1 in X-Forwarded-For), refused before any storage
// call, refilled with time; never on a shared address (§1).

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let server: InProcessServer;

beforeAll(async () => {
  server = await startInProcess(
    `
throttling:
  requestBurstPerIP: 3
  requestsPerSecondPerIP: 1
staticClients:
- id: app
  name: App
  secret: app-secret
  redirectURIs: ['http://127.0.0.1:5555/callback']
`,
    { web: '  clientRemoteIP:\n    header: X-Forwarded-For\n    trustedProxies: ["127.0.0.1/32"]' },
  );
});
afterAll(async () => {
  await server?.close();
});

/** A /token request from `from` (unset: the peer itself, 127.0.0.1, which is shared). */
async function token(from: string | undefined, form: Record<string, string>) {
  const res = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('app:app-secret').toString('base64')}`,
      ...(from ? { 'x-forwarded-for': from } : {}),
    },
    body: new URLSearchParams(form).toString(),
  });
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

const madeUpRefresh = { grant_type: 'refresh_token', refresh_token: 'not-a-token-we-issued' };

/** Storage calls a request can make (the key managers' own reads and writes in the background left out). */
async function requestStorageCalls(): Promise<number> {
  const { values } = await server.running.metrics.storageOperations.get();
  return values
    .filter(
      (v) => v.metricName?.endsWith('_count') && !/KeySet|garbageCollect/.test(String(v.labels.operation)),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

describe('the request rate limit', () => {
  it('refuses a burst from one address with 429 and Retry-After, other addresses unaffected, and refills', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await token('203.0.113.7', madeUpRefresh)).status);
    expect(statuses).toEqual([400, 400, 400]);

    const refused = await token('203.0.113.7', madeUpRefresh);
    expect(refused).toMatchObject({
      status: 429,
      retryAfter: '1',
      body: { error: 'temporarily_unavailable' },
    });
    expect((await token('203.0.113.8', madeUpRefresh)).status).toBe(400);

    // One request per second comes back; the burst does not.
    server.clock.advance(1000);
    expect((await token('203.0.113.7', madeUpRefresh)).status).toBe(400);
    expect((await token('203.0.113.7', madeUpRefresh)).status).toBe(429);
    server.clock.advance(3000);
    const afterRefill = [];
    for (let i = 0; i < 4; i++) afterRefill.push((await token('203.0.113.7', madeUpRefresh)).status);
    expect(afterRefill).toEqual([400, 400, 400, 429]);
  });

  it('costs no storage call for a refused request', async () => {
    // Well-formed (an ID of 25 base32 letters), so that an admitted request looks it up; the client itself
    // is the config's, answered without storage.
    const unknownRefresh = {
      grant_type: 'refresh_token',
      refresh_token: encodeRefreshToken('nosuchtokenaaaaaaaaaaaaaa', 'nosuchsecretaaaaaaaaaaaaa'),
    };
    const before = await requestStorageCalls();
    // The instrument works: an admitted request looks its refresh token up in storage.
    expect((await token('203.0.113.20', unknownRefresh)).status).toBe(400);
    const afterAdmitted = await requestStorageCalls();
    expect(afterAdmitted).toBeGreaterThan(before);
    await token('203.0.113.20', unknownRefresh);
    await token('203.0.113.20', unknownRefresh);
    const drained = await requestStorageCalls();
    expect((await token('203.0.113.20', unknownRefresh)).status).toBe(429);
    expect(await requestStorageCalls()).toBe(drained);
  });

  it('tells a polling device to slow down, the way RFC 8628 lets it keep polling', async () => {
    const poll = { grant_type: DEVICE_CODE_GRANT, device_code: 'made-up' };
    for (let i = 0; i < 3; i++) await token('203.0.113.30', poll);
    expect(await token('203.0.113.30', poll)).toMatchObject({
      status: 429,
      retryAfter: '1',
      body: { error: 'slow_down' },
    });
  });

  it('answers the device pages with an HTML error page, sharing the bucket with /token', async () => {
    for (let i = 0; i < 3; i++) await token('203.0.113.40', madeUpRefresh);
    const res = await fetch(`${server.issuer}/device`, { headers: { 'x-forwarded-for': '203.0.113.40' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('Too many requests');
    const other = await fetch(`${server.issuer}/device`, { headers: { 'x-forwarded-for': '203.0.113.41' } });
    expect(other.status).toBe(200);
  });

  it('covers /token/introspect and /device/code', async () => {
    for (let i = 0; i < 3; i++) await token('203.0.113.50', madeUpRefresh);
    for (const path of ['/token/introspect', '/device/code']) {
      const res = await fetch(`${server.issuer}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': '203.0.113.50',
        },
        body: 'client_id=app&client_secret=app-secret&token=x',
      });
      expect({ path, status: res.status, body: await res.json() }).toMatchObject({
        path,
        status: 429,
        body: { error: 'temporarily_unavailable' },
      });
    }
  });

  it('never limits a shared address, which strangers could otherwise exhaust for everyone', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 10; i++) statuses.add((await token(undefined, madeUpRefresh)).status);
    expect([...statuses]).toEqual([400]);
  });
});

describe('the request rate limit settings', () => {
  const base = 'issuer: http://127.0.0.1:5556/dex\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:5556\n';
  const problems = (yaml: string): string[] => {
    try {
      parseConfig(yaml, {});
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
    return [];
  };

  it('default to a burst of 100 and 10 per second', () => {
    const { config } = parseConfig(base, {});
    expect(config.throttling).toMatchObject({ requestBurstPerIP: 100, requestsPerSecondPerIP: 10 });
  });

  it('are named by path when they are not whole numbers of at least 1', () => {
    expect(problems(`${base}throttling:\n  requestBurstPerIP: lots\n  requestsPerSecondPerIP: 0\n`)).toEqual([
      'throttling.requestsPerSecondPerIP: expected at least 1, got a number (0)',
      'throttling.requestBurstPerIP: expected a whole number of requests, got "lots"',
    ]);
  });
});
