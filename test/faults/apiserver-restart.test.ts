import { startServer, type ServerProcess } from '../helpers/cli.js';
import { ADMIN_USER_CONFIG, writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { basicAuth } from '../helpers/flows.js';
import { oauthFailure, postJSON, startLoad, type LoadRecorder, type OAuthResponse } from '../helpers/load.js';
import { waitFor } from '../helpers/wait.js';
import { decodeRefreshToken } from '../../src/tokens/refresh-token-wire.js';

// Issue 13, "faults survived under load": kube-apiserver stopped for 10 s while logins and refresh-token
// chains run against a replica on Kubernetes storage. Meanwhile every request that needs the API answers
// 503 temporarily_unavailable (never 500, the process stays up) and what needs no API (the keys) is served;
// afterwards nothing is lost or duplicated: the stored refresh tokens are exactly the ones clients hold, and
// every one of them — those issued before the outage, and those a client kept through its 503s — works,
// exactly once per rotation.

const SECRET = 'ZXhhbXBsZS1hcHAtc2VjcmV0';
const OUTAGE_MS = 10_000;
const REUSE_INTERVAL_MS = 2_000;
const UNAVAILABLE = '503 temporarily_unavailable';
const WORKERS = 3;
const USERS = `${ADMIN_USER_CONFIG}
expiry:
  refreshTokens:
    reuseInterval: ${REUSE_INTERVAL_MS / 1000}s`;

describe('kube-apiserver restart under load', () => {
  let cp: ControlPlane;
  let ns: string;
  let cfg: TestServerConfig;
  let server: ServerProcess;

  beforeAll(async () => {
    cp = await startControlPlane();
    ns = await cp.newNamespace('apiserver-restart');
    cfg = await writeTestConfig({
      storage: `storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: ${cp.kubeconfig}\n    namespace: ${ns}\n    crdHandling: ensure`,
      extra: USERS,
    });
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
  }, 10 * 60_000);

  afterAll(async () => {
    await server?.stop();
    await cp?.stop();
  });

  const passwordGrant = () =>
    postJSON(
      `${cfg.issuer}/token`,
      {
        grant_type: 'password',
        username: 'admin@example.com',
        password: 'password',
        scope: 'openid email offline_access',
      },
      basicAuth('example-app', SECRET),
    );
  const refresh = (token: string) =>
    postJSON(
      `${cfg.issuer}/token`,
      { grant_type: 'refresh_token', refresh_token: token },
      basicAuth('example-app', SECRET),
    );
  const refreshTokenOf = (r: OAuthResponse) => r.body.refresh_token as string;
  const familyOf = (wire: string) => decodeRefreshToken(wire)!.refreshID;

  it('answers 503 while the API server is down and loses or duplicates no refresh token', async () => {
    // Logins from before the outage, kept aside until it is over.
    const issued = new Set<string>();
    const beforeOutage: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await passwordGrant();
      expect(r.status).toBe(200);
      beforeOutage.push(refreshTokenOf(r));
      issued.add(familyOf(refreshTokenOf(r)));
    }

    // Each worker holds one chain and keeps its token through 503s, as a client does; now and then it
    // logs in anew (a write) and fetches the keys (no API call: served through the outage).
    const chains: (string | undefined)[] = Array(WORKERS).fill(undefined);
    let iterations = 0;
    const load = startLoad({
      workers: WORKERS,
      pauseMs: 50,
      iteration: async (worker, rec) => {
        const n = iterations++;
        if (n % 5 === 0) await keys(rec);
        const held = chains[worker];
        if (held === undefined || n % 4 === 0) {
          const r = await rec.attempt('login', passwordGrant, oauthFailure);
          if (r.ok) {
            chains[worker] = refreshTokenOf(r.value);
            issued.add(familyOf(chains[worker]));
          }
          return;
        }
        const r = await rec.attempt('refresh', () => refresh(held), oauthFailure);
        if (r.ok) chains[worker] = refreshTokenOf(r.value);
        else if (r.reason !== UNAVAILABLE) chains[worker] = undefined;
      },
    });
    const { recorder } = load;
    let stopping = 0;
    let ready = 0;
    let restartMs: number | undefined;
    try {
      await waitFor(() => recorder.successes('refresh') >= 10, {
        timeoutMs: 60_000,
        what: 'the load to run',
      });
      stopping = Date.now();
      await cp.stopApiserver();
      const felt = (op: string) => recorder.select(op, stopping).some((s) => s.failure === UNAVAILABLE);
      await waitFor(() => felt('login') && felt('refresh'), {
        timeoutMs: OUTAGE_MS,
        what: 'logins and refreshes to meet the outage',
      });
      expect(server.child.exitCode).toBeNull();
      // The outage's length is the fault's setting, not a wait for anything.
      await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - stopping))));
      const starting = Date.now();
      await cp.startApiserver();
      ready = Date.now();
      restartMs = ready - starting;
      await waitFor(
        () => recorder.successes('login', ready) >= 3 && recorder.successes('refresh', ready) >= 10,
        { timeoutMs: 60_000, what: 'logins and refreshes to succeed again' },
      );
    } finally {
      await load.stop();
    }

    const unavailable = recorder.select(undefined, stopping).filter((s) => s.failure === UNAVAILABLE);
    const recovered = (op: string) => recorder.timeToRecover(op, ready);
    console.log(
      [
        recorder.report(`kube-apiserver stopped ${OUTAGE_MS / 1000} s under load`, [
          'login',
          'refresh',
          'keys',
        ]),
        recorder.report('after it was ready again', ['login', 'refresh'], ready),
        `  API server stopped at +0 ms, ready again at +${ready - stopping} ms (its start took ${restartMs} ms); ` +
          `503 temporarily_unavailable answered from +${(unavailable[0]?.startedAt ?? stopping) - stopping} ms ` +
          `to +${(unavailable.at(-1)?.startedAt ?? stopping) - stopping} ms`,
        `  time to recover once it was ready: login ${recovered('login')} ms, refresh ${recovered('refresh')} ms`,
      ].join('\n'),
    );
    // Every 503 fell inside the outage.
    expect(unavailable.every((s) => s.startedAt < ready)).toBe(true);

    // Nothing but 200 and 503 temporarily_unavailable, and no 503 for what needs no API call.
    for (const op of ['login', 'refresh', 'iteration']) {
      const { [UNAVAILABLE]: _unavailable, ...others } = recorder.summary(op).reasons;
      expect({ op, ...others }).toEqual({ op });
    }
    expect(recorder.summary('keys').reasons).toEqual({});
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toMatch(/"msg":"(token endpoint failed|request failed)"/);

    // No object lost or duplicated: the stored refresh tokens are exactly the logins clients hold.
    const listed = await cp.kubectl(['get', 'refreshtokens.latchkey.dev', '-n', ns, '-o', 'json']);
    expect(listed.code).toBe(0);
    const stored = (JSON.parse(listed.stdout) as { items: { spec: { id: string } }[] }).items.map(
      (o) => o.spec.id,
    );
    expect(stored.length).toBe(new Set(stored).size);
    expect(new Set(stored)).toEqual(issued);

    // The watch caches came back too: a client applied now is served without a restart.
    const applying = Date.now();
    const applied = await cp.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: `apiVersion: latchkey.dev/v1
kind: OAuth2Client
metadata:
  name: after-outage
spec:
  id: after-outage
  name: after-outage
  secret: after-outage-secret
  redirectURIs: [http://127.0.0.1:5555/callback]
  public: false
`,
    });
    expect(applied.code).toBe(0);
    await waitFor(
      async () =>
        (
          await postJSON(
            `${cfg.issuer}/token`,
            { grant_type: 'password', username: 'admin@example.com', password: 'password', scope: 'openid' },
            basicAuth('after-outage', 'after-outage-secret'),
          )
        ).status === 200,
      { timeoutMs: 60_000, intervalMs: 250, what: 'a client applied after the outage to be served' },
    );
    console.log(
      `  watch caches: a client applied ${applying - ready} ms after the API server was ready ` +
        `was served ${Date.now() - applying} ms later`,
    );

    // Every chain a worker kept through its 503s still refreshes.
    for (const token of chains.filter((t): t is string => t !== undefined)) {
      expect(await refresh(token).then((r) => r.status)).toBe(200);
    }
    // Every token from before the outage works once per rotation: its successor works, and it is refused
    // when presented again once the reuse window has passed.
    const successors: string[] = [];
    for (const token of beforeOutage) {
      const first = await refresh(token);
      expect(first.status).toBe(200);
      expect(refreshTokenOf(first)).not.toBe(token);
      successors.push(refreshTokenOf(first));
    }
    for (const successor of successors) {
      const next = await refresh(successor);
      expect(next.status).toBe(200);
    }
    await new Promise((r) => setTimeout(r, REUSE_INTERVAL_MS + 500));
    for (const token of beforeOutage) {
      const replayed = await refresh(token);
      expect(replayed).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    }
  }, 120_000);

  async function keys(rec: LoadRecorder): Promise<void> {
    await rec.attempt(
      'keys',
      () =>
        fetch(`${cfg.issuer}/keys`).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as Record<string, unknown>,
        })),
      oauthFailure,
    );
  }
});
