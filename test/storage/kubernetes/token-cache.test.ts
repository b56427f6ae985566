import type { KubeObject } from '../../../src/storage/kubernetes/api.js';
import type { KubernetesStorageConfig } from '../../../src/config/types.js';
import { NotFoundError } from '../../../src/storage/errors.js';
import {
  KubernetesStorage,
  RequestTally,
  type KubernetesStorageOptions,
} from '../../../src/storage/kubernetes/kubernetes.js';
import type { TokenCache } from '../../../src/storage/kubernetes/token-cache.js';
import type { RefreshToken } from '../../../src/storage/storage.js';
import { startControlPlane, type ControlPlane } from '../../helpers/control-plane.js';
import { waitFor } from '../../helpers/wait.js';
import * as f from '../fixtures.js';
import { testStorageConfig } from './test-storage.js';

// The refresh-token and offline-session cache of the Kubernetes back end (token-cache.ts) on a real API
// server: a refresh read from memory, writes that stay compare-and-swap on the version read (a stale hit
// loses and the retry sees the truth), a hard bound, and an emptied cache when its watch ends.

let cp: ControlPlane;
const opened: KubernetesStorage[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
}, 10 * 60_000);
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await cp?.stop();
});

async function open(
  namespace: string,
  more: Partial<KubernetesStorageConfig> = {},
  opts: KubernetesStorageOptions = {},
): Promise<KubernetesStorage> {
  const s = await KubernetesStorage.open(testStorageConfig(cp.kubeconfig, namespace, more), opts);
  opened.push(s);
  return s;
}

/** The storage's refresh-token cache, to look at its size and to hold its watch events back. */
function refreshCacheOf(s: KubernetesStorage): TokenCache {
  const cache = (s as unknown as { refreshTokenCache?: TokenCache }).refreshTokenCache;
  if (!cache) throw new Error('no refresh-token cache');
  return cache;
}

/**
 * Watch lag on demand: the cache's watch events are held back until `release`, so a hit is stale for as
 * long as the test wants (in production it is stale for the watch's lag, usually milliseconds).
 */
function lagWatch(cache: TokenCache): { release(): void } {
  const target = cache as unknown as { event(epoch: number, phase: string, o: KubeObject): void };
  const original = target.event.bind(cache);
  const held: [number, string, KubeObject][] = [];
  target.event = (...args) => void held.push(args);
  return {
    release() {
      target.event = original;
      for (const args of held.splice(0)) original(...args);
    },
  };
}

/** The claim a refresh makes (src/oauth/refresh.ts): rotate only if the secret presented is still current. */
function rotateFrom(presented: string, seen: RefreshToken[]) {
  return (old: RefreshToken): RefreshToken => {
    seen.push(old);
    if (old.token !== presented) return old;
    return { ...old, token: `${presented}>next`, obsoleteToken: presented };
  };
}

describe('the refresh-token cache', () => {
  it('serves a refresh from memory: 0 GETs and 1 write for the read and the rotation', async () => {
    const ns = await cp.newNamespace('tc-budget');
    const tally = new RequestTally();
    const s = await open(ns, {}, { requestCounter: tally.counter });
    await s.createRefreshToken(f.refreshToken('rt'));
    await s.createOfflineSessions(f.offlineSessions('alice', 'oidc'));
    tally.reset();

    const token = await s.getRefreshToken('rt');
    await s.updateRefreshToken('rt', rotateFrom(token.token, []));
    await s.getOfflineSessions('alice', 'oidc');
    const again = await s.getRefreshToken('rt');

    expect(again.token).toBe(`${token.token}>next`);
    expect(tally.snapshot()).toEqual({ 'update refreshtokens': 1 });
  });

  it('with tokenCacheSize: 0, reads every token from the API as before', async () => {
    const ns = await cp.newNamespace('tc-off');
    const tally = new RequestTally();
    const s = await open(ns, { tokenCacheSize: 0 }, { requestCounter: tally.counter });
    await s.createRefreshToken(f.refreshToken('rt'));
    tally.reset();
    await s.getRefreshToken('rt');
    await s.getRefreshToken('rt');
    expect(tally.snapshot()).toEqual({ 'get refreshtokens': 2 });
  });

  it('loses the compare-and-swap on a stale hit and retries on the truth: no lost update, the replay seen', async () => {
    const ns = await cp.newNamespace('tc-stale');
    const tally = new RequestTally();
    const a = await open(ns, {}, { requestCounter: tally.counter });
    const b = await open(ns);
    await a.createRefreshToken(f.refreshToken('rt'));
    const presented = (await a.getRefreshToken('rt')).token;
    const lag = lagWatch(refreshCacheOf(a));
    try {
      // Another replica rotates the token; replica a has not heard of it yet.
      await b.updateRefreshToken('rt', rotateFrom(presented, []));
      expect((await a.getRefreshToken('rt')).token).toBe(presented); // the stale hit

      tally.reset();
      const seen: RefreshToken[] = [];
      const result = await a.updateRefreshToken('rt', rotateFrom(presented, seen));

      // First on the stale hit (its write lost: 409), then on a fresh GET, where the secret is obsolete.
      expect(seen.map((t) => t.token)).toEqual([presented, `${presented}>next`]);
      expect(result.obsoleteToken).toBe(presented);
      expect(tally.snapshot()).toEqual({ 'get refreshtokens': 1, 'update refreshtokens': 1 });
    } finally {
      lag.release();
    }
    // Exactly one rotation happened.
    expect((await b.getRefreshToken('rt')).token).toBe(`${presented}>next`);
  });

  it('fails the update of a token deleted behind its back (revoked) with NotFound', async () => {
    const ns = await cp.newNamespace('tc-revoked');
    const a = await open(ns);
    await a.createRefreshToken(f.refreshToken('rt'));
    const presented = (await a.getRefreshToken('rt')).token;
    const lag = lagWatch(refreshCacheOf(a));
    try {
      const r = await cp.kubectl(['delete', '-n', ns, 'refreshtokens.latchkey.dev', '--all']);
      expect(r.code).toBe(0);
      expect((await a.getRefreshToken('rt')).token).toBe(presented); // the stale hit
      await expect(a.updateRefreshToken('rt', rotateFrom(presented, []))).rejects.toBeInstanceOf(
        NotFoundError,
      );
      // The failed write took it out of the cache: no longer served, even before the watch says so.
      await expect(a.getRefreshToken('rt')).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      lag.release();
    }
  });

  it('takes in an update made elsewhere through its watch', async () => {
    const ns = await cp.newNamespace('tc-watch');
    const a = await open(ns);
    const b = await open(ns);
    await a.createRefreshToken(f.refreshToken('rt'));
    const presented = (await a.getRefreshToken('rt')).token;
    await b.updateRefreshToken('rt', rotateFrom(presented, []));
    await waitFor(async () => (await a.getRefreshToken('rt')).obsoleteToken === presented, {
      what: 'the watch to bring the rotation',
    });
    await b.deleteRefreshToken('rt');
    await waitFor(
      () =>
        a.getRefreshToken('rt').then(
          () => false,
          (e) => e instanceof NotFoundError,
        ),
      {
        what: 'the watch to bring the deletion',
      },
    );
  });

  it('never holds more than its bound: the least recently used goes first', async () => {
    const ns = await cp.newNamespace('tc-bound');
    const tally = new RequestTally();
    const s = await open(ns, { tokenCacheSize: 3 }, { requestCounter: tally.counter });
    const cache = refreshCacheOf(s);
    const ids = Array.from({ length: 10 }, (_, i) => `rt-${i}`);
    for (const id of ids) {
      await s.createRefreshToken(f.refreshToken(id));
      expect(cache.size).toBeLessThanOrEqual(3);
    }
    for (const id of ids) {
      await s.getRefreshToken(id);
      expect(cache.size).toBeLessThanOrEqual(3);
    }
    expect(cache.size).toBe(3);
    tally.reset();
    await s.getRefreshToken('rt-9'); // held
    await s.getRefreshToken('rt-0'); // evicted long ago
    expect(tally.snapshot()).toEqual({ 'get refreshtokens': 1 });
  });

  it('is emptied when its watch ends, serves nothing until a new watch runs, then fills again', async () => {
    const ns = await cp.newNamespace('tc-restart');
    const tally = new RequestTally();
    const s = await open(ns, {}, { requestCounter: tally.counter });
    const cache = refreshCacheOf(s);
    await s.createRefreshToken(f.refreshToken('rt'));
    expect(cache.size).toBe(1);

    // Cut the watch's connection, as a dropped connection or a 410 Gone would end it.
    const restarts = cache.restartCount;
    (cache as unknown as { abort: AbortController }).abort.abort();
    await waitFor(() => !cache.live || cache.restartCount > restarts, { what: 'the watch to end' });
    expect(cache.size).toBe(0);
    await waitFor(() => cache.live && cache.restartCount > restarts, { what: 'a new watch' });
    expect(cache.size).toBe(0);

    tally.reset();
    await s.getRefreshToken('rt');
    await s.getRefreshToken('rt');
    expect(tally.snapshot()).toEqual({ 'get refreshtokens': 1 });
  });
});

describe('the session cache', () => {
  const notFound = (p: Promise<unknown>): Promise<boolean> =>
    p.then(
      () => false,
      (e: unknown) => e instanceof NotFoundError,
    );

  it('serves a session this replica created or read from memory: 0 API requests per login', async () => {
    const ns = await cp.newNamespace('tc-session');
    const tally = new RequestTally();
    const s = await open(ns, {}, { requestCounter: tally.counter });
    const b = await open(ns);
    await s.createSession(f.session('created-here'));
    await b.createSession(f.session('created-elsewhere'));
    await s.getSession('created-elsewhere'); // a miss: one GET, whose answer is kept
    tally.reset();

    expect(await s.getSession('created-here')).toEqual(f.session('created-here'));
    expect(await s.getSession('created-elsewhere')).toEqual(f.session('created-elsewhere'));
    await s.getSession('created-here');

    expect(tally.snapshot()).toEqual({});
  });

  it('takes in an update made elsewhere, and a deletion behind its back (kubectl, another replica) is NotFound once its watch says so', async () => {
    const ns = await cp.newNamespace('tc-session-end');
    const tally = new RequestTally();
    const a = await open(ns, {}, { requestCounter: tally.counter });
    const b = await open(ns);
    await a.createSession(f.session('by-kubectl'));
    await a.createSession(f.session('by-replica'));
    tally.reset();
    await a.getSession('by-kubectl');
    // Served from the cache: only the watch can tell replica a that it is gone.
    expect(tally.snapshot()).toEqual({});

    const later = new Date('2026-04-02T00:00:00.001Z');
    await b.updateSession('by-replica', (x) => ({ ...x, lastActivity: later }));
    await waitFor(async () => (await a.getSession('by-replica')).lastActivity.getTime() === later.getTime(), {
      what: 'the watch to bring the update',
    });

    // An operator ends a session.
    const r = await cp.kubectl(['delete', '-n', ns, 'authsessions.latchkey.dev', 'by-kubectl']);
    expect(r.code).toBe(0);
    await waitFor(() => notFound(a.getSession('by-kubectl')), { what: 'the watch to bring the deletion' });

    // Logout on another replica.
    await b.deleteSession('by-replica');
    await waitFor(() => notFound(a.getSession('by-replica')), { what: 'the watch to bring the logout' });
  });
});
