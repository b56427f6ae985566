import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { basicAuth, browserLogin } from '../helpers/flows.js';
import { oauthFailure, postJSON, startLoad, type LoadRecorder } from '../helpers/load.js';
import { freePort } from '../helpers/net.js';
import { RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { ADMIN_USER_CONFIG } from '../helpers/config.js';

// Issue 13, "faults survived under load": a rolling restart. Three `latchkey serve` replicas on one
// Kubernetes namespace behind a round-robin proxy (the Service), a load of password and code-flow logins
// with refresh-token chains; each replica in turn gets SIGTERM, exits, and is started again. The drain
// (readiness false first, still serving for web.drainDelay, connections closed after their response)
// must leave nothing for clients to retry: 0 failed logins, 0 failed refreshes, a 503 included.

const SECRET = 'ZXhhbXBsZS1hcHAtc2VjcmV0';
const REDIRECT_URI = 'http://127.0.0.1:5555/callback';
const REPLICAS = 3;
/** Endpoints follow readiness this late (kube: the probe period, then the endpoint controller and kube-proxy). */
const PROBE_INTERVAL_MS = 1_000;
/** Above the probe period and the 5 s keep-alive timeout (see web.drainDelay). */
const DRAIN_DELAY = '6s';
const REFRESHES_PER_LOGIN = 3;

interface Replica {
  file: string;
  webPort: number;
  telemetryPort: number;
  process?: ServerProcess;
}

describe('rolling restart under load', () => {
  let cp: ControlPlane;
  let proxy: RoundRobinProxy;
  let issuer: string;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    cp = await startControlPlane();
    const ns = await cp.newNamespace('rolling');
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-rolling-'));
    for (let i = 0; i < REPLICAS; i++) {
      replicas.push({
        file: join(dir, `replica-${i}.yaml`),
        webPort: await freePort(),
        telemetryPort: await freePort(),
      });
    }
    proxy = await RoundRobinProxy.start(
      replicas.map((r) => ({
        port: r.webPort,
        readinessURL: `http://127.0.0.1:${r.telemetryPort}/healthz/ready`,
      })),
      // A Service of the shipped manifests: kube-proxy does not retry a refused connection elsewhere.
      { probeIntervalMs: PROBE_INTERVAL_MS, retryRefused: false },
    );
    // Every replica has the Service's address as its issuer, as pods behind one Service do.
    issuer = `http://127.0.0.1:${proxy.port}/dex`;
    for (const r of replicas) await writeFile(r.file, replicaConfig(r, issuer, cp.kubeconfig, ns));
    // One at a time: the first creates the key sets the others read.
    for (const r of replicas) r.process = await startReplica(r);
    await waitFor(() => replicas.every((_, i) => proxy.isReady(i)), { what: 'every replica in rotation' });
  }, 10 * 60_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.process?.stop()));
    await proxy?.stop();
    await cp?.stop();
  });

  it('loses no login and no refresh while each replica is stopped with SIGTERM and started again', async () => {
    const rp = await oidc.discovery(new URL(issuer), 'example-app', SECRET, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    const load = startLoad({
      workers: 4,
      pauseMs: 50,
      iteration: async (worker, rec) => {
        const refreshToken = worker === 0 ? await codeFlowLogin(rp, rec) : await passwordLogin(rec);
        let token = refreshToken;
        for (let n = 0; token && n < REFRESHES_PER_LOGIN; n++) token = await refresh(rec, token);
      },
    });
    const { recorder } = load;
    const restarts: string[] = [];
    try {
      await waitFor(() => recorder.successes('refresh') >= 10, {
        timeoutMs: 60_000,
        what: 'the load to run',
      });
      for (const [i, r] of replicas.entries()) {
        const sigterm = Date.now();
        const exitCode = await r.process!.stop();
        expect(exitCode).toBe(0);
        const exited = Date.now();
        r.process = await startReplica(r);
        await waitFor(() => proxy.isReady(i), { what: `replica ${i} back in rotation` });
        const back = Date.now();
        restarts.push(
          `  replica ${i}: SIGTERM → exit ${exited - sigterm} ms (drain ${DRAIN_DELAY}), ` +
            `start → in rotation ${back - exited} ms`,
        );
        // As a Deployment waits for the new pod to be ready, plus a little progress before the next one goes.
        await waitFor(() => recorder.successes('refresh', back) >= 5, {
          timeoutMs: 30_000,
          what: `progress after replica ${i} came back`,
        });
      }
      const after = Date.now();
      await waitFor(() => recorder.successes('refresh', after) >= 10, {
        timeoutMs: 60_000,
        what: 'more load',
      });
    } finally {
      await load.stop();
      const stats = proxy.snapshot();
      console.log(
        [
          recorder.report('rolling restart: 3 replicas, SIGTERM each in turn', [
            'login',
            'code-login',
            'refresh',
          ]),
          ...restarts,
          `  proxy: ${stats.accepted} connections, per replica ${stats.forwarded.join('/')}, ` +
            `${stats.refusedAndReset} refused (reset), ${stats.noEndpoint} without an endpoint`,
        ].join('\n'),
      );
    }
    for (const op of ['login', 'code-login', 'refresh', 'iteration']) {
      expect({ op, ...recorder.summary(op).reasons }).toEqual({ op });
    }
    expect(recorder.successes('login')).toBeGreaterThan(0);
    expect(recorder.successes('code-login')).toBeGreaterThan(0);
    expect(recorder.successes('refresh')).toBeGreaterThan(0);
  }, 120_000);

  async function startReplica(r: Replica): Promise<ServerProcess> {
    return startServer(r.file, `http://127.0.0.1:${r.webPort}/dex/.well-known/openid-configuration`);
  }

  async function passwordLogin(rec: LoadRecorder): Promise<string | undefined> {
    const r = await rec.attempt(
      'login',
      () =>
        postJSON(
          `${issuer}/token`,
          {
            grant_type: 'password',
            username: 'admin@example.com',
            password: 'password',
            scope: 'openid email offline_access',
          },
          basicAuth('example-app', SECRET),
        ),
      oauthFailure,
    );
    return r.ok ? (r.value.body.refresh_token as string) : undefined;
  }

  async function codeFlowLogin(rp: oidc.Configuration, rec: LoadRecorder): Promise<string | undefined> {
    const r = await rec.attempt('code-login', async () => {
      try {
        const { callback, verifier, nonce, state } = await browserLogin(rp, {
          redirectURI: REDIRECT_URI,
          scope: 'openid email offline_access',
        });
        const tokens = await oidc.authorizationCodeGrant(rp, callback, {
          pkceCodeVerifier: verifier,
          expectedNonce: nonce,
          expectedState: state,
        });
        return tokens.refresh_token;
      } catch (e) {
        // The first line is enough to tell a 503 page from a reset connection.
        throw new Error((e as Error).message.split('\n')[0], { cause: e });
      }
    });
    return r.ok ? r.value : undefined;
  }

  async function refresh(rec: LoadRecorder, token: string): Promise<string | undefined> {
    const r = await rec.attempt(
      'refresh',
      () =>
        postJSON(
          `${issuer}/token`,
          { grant_type: 'refresh_token', refresh_token: token },
          basicAuth('example-app', SECRET),
        ),
      oauthFailure,
    );
    return r.ok ? (r.value.body.refresh_token as string) : undefined;
  }
});

function replicaConfig(r: Replica, issuer: string, kubeconfig: string, namespace: string): string {
  return `issuer: ${issuer}
storage:
  type: kubernetes
  config:
    kubeConfigFile: ${kubeconfig}
    namespace: ${namespace}
    crdHandling: ensure
web:
  http: 127.0.0.1:${r.webPort}
  drainDelay: ${DRAIN_DELAY}
telemetry:
  http: 127.0.0.1:${r.telemetryPort}
logger:
  level: info
  format: json
staticClients:
- id: example-app
  secret: ${SECRET}
  name: Example App
  redirectURIs:
  - ${REDIRECT_URI}
${ADMIN_USER_CONFIG}
`;
}
