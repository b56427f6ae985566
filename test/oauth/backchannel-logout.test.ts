// The back-channel logout sender against a real relying party: an HTTP server on 127.0.0.1 that records what
// it is sent and answers as each test tells it to. Tokens are signed by a real JwtSigner and verified with
// jose against the signer's JWKS, as an RP would.

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { KeyManager } from '../../src/keys/manager.js';
import { JwtSigner } from '../../src/keys/signer.js';
import { Metrics } from '../../src/observability/metrics.js';
import {
  BackchannelLogout,
  deliverableURI,
  isDelivered,
  isRetryableStatus,
  type BackchannelLogoutOptions,
  type EndedSession,
} from '../../src/oauth/backchannel-logout.js';
import { MemoryStorage } from '../../src/storage/memory/memory.js';
import type { Client } from '../../src/storage/storage.js';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/tokens/logout-token.js';
import { encodeSubject } from '../../src/tokens/subject.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const ISSUER = 'https://issuer.example/dex';
const H = 60 * 60 * 1000;

const session: EndedSession = {
  id: 'sessionabcdefghijklmnopq',
  connectorID: 'ldap',
  claims: {
    userID: 'user-1',
    username: 'Jane',
    preferredUsername: 'jane',
    email: 'jane@example.com',
    emailVerified: true,
    groups: ['admins'],
  },
};

type Answer = number | 'hang';

interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
  /** Whether notify() had returned when this request arrived. */
  callerHadReturned: boolean;
}

/** The relying party: records each request, answers with `answer(n)` (n counts from 0), or never. */
class Receiver {
  readonly requests: Received[] = [];
  answer: (n: number, path: string) => Answer = () => 204;
  /** Set by tests right after notify() returns. */
  callerReturned = true;
  inFlight = 0;
  maxInFlight = 0;
  private readonly hanging = new Set<ServerResponse>();
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      res.on('close', () => {
        this.inFlight--;
        this.hanging.delete(res);
      });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const n = this.requests.length;
        const path = req.url ?? '';
        this.requests.push({
          method: req.method ?? '',
          path,
          contentType: req.headers['content-type'],
          body: Buffer.concat(chunks).toString('utf8'),
          callerHadReturned: this.callerReturned,
        });
        const answer = this.answer(n, path);
        if (answer === 'hang') {
          this.hanging.add(res);
          return;
        }
        if (answer >= 300 && answer < 400) res.setHeader('location', this.url('/elsewhere'));
        res.writeHead(answer).end();
      });
    });
  }

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
    return r;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** The logout tokens received, in order. */
  tokens(): string[] {
    return this.requests.map((r) => new URLSearchParams(r.body).get('logout_token') ?? '');
  }

  /** Answers every request left hanging. */
  release(status: number): void {
    for (const res of this.hanging) res.writeHead(status).end();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface LogEntry {
  level: 'debug' | 'warn';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLogger() {
  const entries: LogEntry[] = [];
  const log =
    (level: LogEntry['level']) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return {
    entries,
    debug: log('debug'),
    warn: log('warn'),
    at: (l: LogEntry['level']) => entries.filter((e) => e.level === l),
  };
}

const client = (id: string, backchannelLogoutURI?: string): Client => ({
  id,
  secret: '',
  redirectURIs: [`https://${id}.example/callback`],
  trustedPeers: [],
  public: false,
  name: id,
  logoURL: '',
  ...(backchannelLogoutURI !== undefined ? { backchannelLogoutURI } : {}),
});

let keys: KeyManager;
let signer: JwtSigner;
let receiver: Receiver;
let logger: ReturnType<typeof recordingLogger>;
let metrics: Metrics;
let senders: BackchannelLogout[];

beforeAll(async () => {
  keys = new KeyManager(new MemoryStorage(), {
    name: 'signing',
    kind: 'signing',
    rotationPeriodMs: 6 * H,
    retentionMs: 24 * H,
  });
  await keys.start();
  signer = new JwtSigner(keys);
});

afterAll(() => keys.stop());

beforeEach(async () => {
  receiver = await Receiver.start();
  logger = recordingLogger();
  metrics = new Metrics();
  senders = [];
});

afterEach(async () => {
  for (const s of senders) await s.close(0);
  await receiver.close();
  // Whatever happened, no log line may carry a token.
  const logged = JSON.stringify(logger.entries);
  for (const t of receiver.tokens()) expect(logged).not.toContain(t);
});

function sender(extra: Partial<BackchannelLogoutOptions> = {}): BackchannelLogout {
  const s = new BackchannelLogout({
    issuer: ISSUER,
    signer,
    logger,
    metrics,
    timeoutMs: 2_000,
    retryDelaysMs: [10, 20],
    ...extra,
  });
  senders.push(s);
  return s;
}

async function results(): Promise<Record<string, number>> {
  const { values } = await metrics.backchannelLogouts.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.result), v.value]));
}

/** What an RP checks (§2.6), with jose against the IdP's JWKS. */
async function verifyLogoutToken(token: string, audience: string): Promise<JWTPayload> {
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(await signer.jwks()), {
    issuer: ISSUER,
    audience,
    typ: 'logout+jwt',
    requiredClaims: ['iat', 'exp', 'jti', 'events', 'sid', 'sub'],
  });
  expect(protectedHeader.typ).toBe('logout+jwt');
  expect(payload.events).toEqual({ [BACKCHANNEL_LOGOUT_EVENT]: {} });
  expect(payload.sid).toBe(session.id);
  expect(payload.sub).toBe(encodeSubject(session.claims.userID, session.connectorID));
  expect(payload).not.toHaveProperty('nonce');
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(300);
  return payload;
}

const DEADLINE = 10_000;
const settled = (s: BackchannelLogout) =>
  waitFor(() => s.pending === 0, { timeoutMs: DEADLINE, intervalMs: 10, what: 'no delivery pending' });

describe('BackchannelLogout', () => {
  test('POSTs a verifiable logout token to each client with a URI, once; skips the others', async () => {
    const s = sender();
    const clients = [
      client('grafana', receiver.url('/grafana/logout')),
      client('kubectl'), // no back-channel URI
      client('argocd', receiver.url('/argocd/logout?tenant=7')),
      client('grafana', receiver.url('/grafana/logout')), // listed twice, told once
      client('blank', ''),
    ];
    s.notify(session, clients);
    expect(await s.drain(DEADLINE)).toBe(true);

    expect(receiver.requests.map((r) => r.path).sort()).toEqual([
      '/argocd/logout?tenant=7',
      '/grafana/logout',
    ]);
    for (const r of receiver.requests) {
      expect(r.method).toBe('POST');
      expect(r.contentType).toBe('application/x-www-form-urlencoded');
      // §2.5: the body is the logout_token parameter and nothing else.
      expect([...new URLSearchParams(r.body).keys()]).toEqual(['logout_token']);
      const token = new URLSearchParams(r.body).get('logout_token')!;
      const audience = r.path.startsWith('/grafana') ? 'grafana' : 'argocd';
      expect((await verifyLogoutToken(token, audience)).aud).toBe(audience);
    }
    const [a, b] = receiver
      .tokens()
      .map((t) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as JWTPayload);
    expect(a!.jti).not.toBe(b!.jti);
    expect(await results()).toEqual({ delivered: 2 });
    expect(logger.at('warn')).toEqual([]);
    expect(logger.at('debug').map((e) => [e.obj.client, e.obj.attempts, e.msg])).toEqual(
      expect.arrayContaining([
        ['grafana', 1, 'backchannel logout: delivered'],
        ['argocd', 1, 'backchannel logout: delivered'],
      ]),
    );
  });

  test('notify returns before the RP hears anything; an RP that never answers times out on every attempt', async () => {
    const s = sender({ timeoutMs: 200, retryDelaysMs: [10, 10] });
    receiver.answer = () => 'hang';
    receiver.callerReturned = false;
    const returned = s.notify(session, [client('grafana', receiver.url('/logout'))]);
    receiver.callerReturned = true;
    expect(returned).toBeUndefined(); // not a promise the caller could be made to wait on
    expect(receiver.requests).toEqual([]);
    expect(s.pending).toBe(1);

    await settled(s);
    expect(receiver.requests).toHaveLength(3);
    expect(receiver.requests.every((r) => r.callerHadReturned)).toBe(true);
    expect(await results()).toEqual({ failed: 1 });
    const warns = logger.at('warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]!.obj).toMatchObject({ client: 'grafana', attempts: 3, error: 'no answer within 200 ms' });
    expect(logger.at('debug').filter((e) => /retrying/.test(e.msg ?? ''))).toHaveLength(2);
  });

  test.each([500, 503, 429])(
    'an answer %i is retried: delivered once on the second attempt',
    async (status) => {
      const s = sender();
      receiver.answer = (n) => (n === 0 ? status : 200);
      s.notify(session, [client('grafana', receiver.url('/logout'))]);
      await settled(s);
      expect(receiver.requests).toHaveLength(2);
      expect(await results()).toEqual({ delivered: 1 });
      // Each attempt carries a token of its own, and each verifies.
      const [first, second] = receiver.tokens();
      expect(first).not.toBe(second);
      const jtis = [
        await verifyLogoutToken(first!, 'grafana'),
        await verifyLogoutToken(second!, 'grafana'),
      ].map((p) => p.jti);
      expect(new Set(jtis).size).toBe(2);
      expect(logger.at('warn')).toEqual([]);
      expect(logger.at('debug').find((e) => /retrying/.test(e.msg ?? ''))?.obj).toMatchObject({
        status,
        attempts: 1,
      });
    },
  );

  test('5xx on every attempt: given up after the configured attempts', async () => {
    const s = sender({ retryDelaysMs: [5, 5, 5] });
    receiver.answer = () => 502;
    s.notify(session, [client('grafana', receiver.url('/logout'))]);
    await settled(s);
    expect(receiver.requests).toHaveLength(4);
    expect(await results()).toEqual({ failed: 1 });
    expect(logger.at('warn')[0]!.obj).toMatchObject({ client: 'grafana', attempts: 4, status: 502 });
  });

  test.each([400, 401, 404, 302])(
    'an answer %i is a refusal: logged, never retried, no redirect followed',
    async (status) => {
      const s = sender();
      receiver.answer = () => status;
      s.notify(session, [client('grafana', receiver.url('/logout'))]);
      await settled(s);
      expect(receiver.requests.map((r) => r.path)).toEqual(['/logout']); // not /elsewhere, not twice
      expect(await results()).toEqual({ rejected: 1 });
      const warns = logger.at('warn');
      expect(warns).toHaveLength(1);
      expect(warns[0]!.obj).toMatchObject({ client: 'grafana', attempts: 1, status });
    },
  );

  test('a refused connection is retried, then given up with the reason logged', async () => {
    const s = sender({ retryDelaysMs: [5] });
    s.notify(session, [client('gone', `http://127.0.0.1:${await freePort()}/logout`)]);
    await settled(s);
    expect(await results()).toEqual({ failed: 1 });
    expect(logger.at('warn')[0]!.obj).toMatchObject({
      client: 'gone',
      attempts: 2,
      error: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  test('signing failing once is retried like a network error', async () => {
    let calls = 0;
    const flaky: BackchannelLogoutOptions['signer'] = {
      sign: (payload, header) =>
        calls++ === 0 ? Promise.reject(new Error('key set unavailable')) : signer.sign(payload, header),
    };
    const s = sender({ signer: flaky });
    s.notify(session, [client('grafana', receiver.url('/logout'))]);
    await settled(s);
    expect(calls).toBe(2);
    expect(receiver.requests).toHaveLength(1);
    await verifyLogoutToken(receiver.tokens()[0]!, 'grafana');
    expect(await results()).toEqual({ delivered: 1 });
    expect(logger.at('debug').find((e) => /retrying/.test(e.msg ?? ''))?.obj.error).toMatch(
      /key set unavailable/,
    );
  });

  test('a logger that throws loses no delivery and leaves nothing pending', async () => {
    const boom = (): never => {
      throw new Error('log sink broken');
    };
    const s = sender({ logger: { debug: boom, warn: boom } });
    let flakyCalls = 0;
    receiver.answer = (_n, path) => (path === '/refuses' ? 400 : flakyCalls++ === 0 ? 500 : 204);
    s.notify(session, [client('flaky', receiver.url('/flaky')), client('refuses', receiver.url('/refuses'))]);
    await settled(s);
    expect(receiver.requests.map((r) => r.path).sort()).toEqual(['/flaky', '/flaky', '/refuses']);
    expect(await results()).toEqual({ delivered: 1, rejected: 1 });
  });

  test('a URI that is not http(s) is not sent to, and said so', async () => {
    const s = sender();
    s.notify(session, [
      client('ftp', 'ftp://rp.example/logout'),
      client('junk', 'not a url'),
      client('ok', receiver.url('/ok')),
    ]);
    expect(s.pending).toBe(1);
    await settled(s);
    expect(receiver.requests.map((r) => r.path)).toEqual(['/ok']);
    expect(await results()).toEqual({ failed: 2, delivered: 1 });
    expect(logger.at('warn').map((e) => e.obj.client)).toEqual(['ftp', 'junk']);
  });

  test('bounded: beyond maxPending deliveries are dropped with a warning; at most maxConcurrent in flight', async () => {
    const s = sender({ maxPending: 3, maxConcurrent: 2 });
    receiver.answer = () => 'hang';
    const clients = ['a', 'b', 'c', 'd', 'e'].map((id) => client(id, receiver.url(`/${id}`)));
    s.notify(session, clients);
    expect(s.pending).toBe(3);
    expect(await results()).toEqual({ dropped: 2 });
    expect(logger.at('warn')).toHaveLength(1);
    expect(logger.at('warn')[0]!.obj).toMatchObject({ dropped: 2, pending: 3 });
    s.notify(session, [client('f', receiver.url('/f'))]); // still full
    expect(await results()).toEqual({ dropped: 3 });

    await waitFor(() => receiver.requests.length === 2, {
      timeoutMs: DEADLINE,
      intervalMs: 10,
      what: 'two requests',
    });
    // The third waits for a slot, which only an answer frees.
    expect(receiver.inFlight).toBe(2);
    receiver.answer = () => 204;
    receiver.release(204);
    await settled(s);
    expect(receiver.requests.map((r) => r.path).sort()).toEqual(['/a', '/b', '/c']);
    expect(receiver.maxInFlight).toBe(2);
    expect(await results()).toEqual({ dropped: 3, delivered: 3 });

    // Room again once delivered.
    s.notify(session, [client('g', receiver.url('/g'))]);
    await settled(s);
    expect(await results()).toEqual({ dropped: 3, delivered: 4 });
  });

  test('close waits for deliveries under way, then abandons the rest and refuses new ones', async () => {
    const s = sender({ retryDelaysMs: [60_000] });
    receiver.answer = (_n, path) => (path === '/slow' ? 'hang' : path === '/flaky' ? 500 : 204);
    s.notify(session, [client('slow', receiver.url('/slow')), client('flaky', receiver.url('/flaky'))]);
    await waitFor(() => receiver.requests.length === 2 && s.pending === 2, {
      timeoutMs: DEADLINE,
      intervalMs: 10,
      what: 'both attempted',
    });

    // One request hangs, one waits a minute for its retry: neither ends within the grace.
    expect(await s.close(50)).toBe(2);
    await settled(s);
    expect(receiver.inFlight).toBe(0); // the hanging request was aborted
    expect(await results()).toEqual({ abandoned: 2 });
    expect(logger.at('warn').map((e) => e.obj)).toContainEqual({ abandoned: 2 });

    s.notify(session, [client('late', receiver.url('/late'))]);
    expect(s.pending).toBe(0);
    expect(await results()).toEqual({ abandoned: 2, dropped: 1 });
    expect(receiver.requests).toHaveLength(2);
  });

  test('close with deliveries that end within the grace abandons none', async () => {
    const s = sender();
    receiver.answer = (n) => (n === 0 ? 'hang' : 204);
    s.notify(session, [client('grafana', receiver.url('/logout'))]);
    await waitFor(() => receiver.requests.length === 1, {
      timeoutMs: DEADLINE,
      intervalMs: 10,
      what: 'a request',
    });
    const closing = s.close(DEADLINE);
    receiver.release(200);
    expect(await closing).toBe(0);
    expect(await results()).toEqual({ delivered: 1 });
    expect(await s.close(0)).toBe(0);
  });

  test('drain says whether anything is left when its deadline passes', async () => {
    const s = sender();
    expect(await s.drain(0)).toBe(true);
    receiver.answer = () => 'hang';
    s.notify(session, [client('grafana', receiver.url('/logout'))]);
    expect(await s.drain(20)).toBe(false);
    receiver.release(204);
    expect(await s.drain(DEADLINE)).toBe(true);
  });

  test('options out of range are refused', () => {
    expect(() => sender({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => sender({ maxPending: 0 })).toThrow(RangeError);
    expect(() => sender({ maxConcurrent: -1 })).toThrow(RangeError);
    expect(() => sender({ retryDelaysMs: [10, -1] })).toThrow(RangeError);
  });
});

describe('protocol checks', () => {
  test.each([
    [200, true, false],
    [204, true, false],
    [299, true, false],
    [302, false, false],
    [400, false, false],
    [404, false, false],
    [429, false, true],
    [500, false, true],
    [503, false, true],
  ])('HTTP %i: delivered %s, retried %s', (status, delivered, retried) => {
    expect(isDelivered(status)).toBe(delivered);
    expect(isRetryableStatus(status)).toBe(retried);
  });

  test.each([
    ['https://rp.example/logout', true],
    ['http://127.0.0.1:8080/bcl?x=1', true],
    ['ftp://rp.example/logout', false],
    ['javascript:alert(1)', false],
    ['/relative', false],
    ['', false],
  ])('%s deliverable: %s', (uri, ok) => {
    expect(deliverableURI(uri) !== undefined).toBe(ok);
  });
});
