import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { ADMIN_USER_CONFIG, writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { basicAuth } from '../helpers/flows.js';
import { oauthFailure, postJSON, startLoad } from '../helpers/load.js';
import { RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { waitFor } from '../helpers/wait.js';

// Issue 13, "faults survived under load": etcd compaction under the watch caches. Latchkey reaches the API
// server through a proxy that the test can cut (a network partition). While it is cut, a client is applied
// and another deleted with kubectl, and etcd is compacted past them; when the partition heals, the watch
// caches resume from a resourceVersion etcd no longer has, get 410 Gone, relist, and serve the applied
// client and refuse the deleted one.
//
// This control plane runs kube-apiserver with --watch-cache=false: with its own watch cache the API server
// would serve the resumed watch from memory (its window holds the gap) and never say 410; without it, the
// watch goes to etcd, as it does on any API server once the gap is older than its cache's window.

const SECRET = 'ZXhhbXBsZS1hcHAtc2VjcmV0';
const USERS = ADMIN_USER_CONFIG;

const clientYaml = (id: string) => `apiVersion: latchkey.dev/v1
kind: OAuth2Client
metadata:
  name: ${id}
spec:
  id: ${id}
  name: ${id}
  secret: ${id}-secret
  redirectURIs:
    - http://127.0.0.1:5555/callback
  public: false
`;

describe('410 Gone on the watch caches', () => {
  let cp: ControlPlane;
  let ns: string;
  let proxy: RoundRobinProxy;
  let cfg: TestServerConfig;
  let server: ServerProcess;

  beforeAll(async () => {
    cp = await startControlPlane({ extraApiserverArgs: ['--watch-cache=false'] });
    ns = await cp.newNamespace('watch-gone');
    proxy = await RoundRobinProxy.start([{ port: Number(new URL(cp.apiURL).port) }]);
    // Latchkey's kubeconfig names the proxy; the API server's certificate is for 127.0.0.1 on any port.
    const kubeconfig = parse(await readFile(cp.kubeconfig, 'utf8')) as {
      clusters: { cluster: { server: string } }[];
    };
    for (const c of kubeconfig.clusters) c.cluster.server = `https://127.0.0.1:${proxy.port}`;
    const proxied = join(cp.dir, 'through-proxy.kubeconfig');
    await writeFile(proxied, stringify(kubeconfig));
    cfg = await writeTestConfig({
      storage: `storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: ${proxied}\n    namespace: ${ns}\n    crdHandling: ensure`,
      extra: USERS,
    });
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
  }, 10 * 60_000);

  afterAll(async () => {
    await server?.stop();
    await proxy?.stop();
    await cp?.stop();
  });

  const passwordGrant = (client: string, secret: string, scope = 'openid') =>
    postJSON(
      `${cfg.issuer}/token`,
      { grant_type: 'password', username: 'admin@example.com', password: 'password', scope },
      basicAuth(client, secret),
    );
  const clientLists = async () => {
    const text = await (await fetch(`http://127.0.0.1:${cfg.telemetryPort}/metrics`)).text();
    const m = /^latchkey_kubernetes_api_requests_total\{verb="list",resource="oauth2clients"\} (\d+)$/m.exec(
      text,
    );
    return Number(m?.[1] ?? 0);
  };
  const apply = async (yaml: string) => {
    const r = await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: yaml });
    expect(r.stderr).toBe('');
  };

  it('relists after the partition and serves the client applied during it', async () => {
    await apply(clientYaml('doomed-client'));
    await waitFor(async () => (await passwordGrant('doomed-client', 'doomed-client-secret')).status === 200, {
      what: 'the first client to be served',
    });
    const listsBefore = await clientLists();

    const load = startLoad({
      workers: 2,
      pauseMs: 50,
      iteration: async (_worker, rec) => {
        // With a refresh token: a write, so the partition shows.
        await rec.attempt(
          'login',
          () => passwordGrant('example-app', SECRET, 'openid offline_access'),
          oauthFailure,
        );
      },
    });
    const { recorder } = load;
    let cut = 0;
    let healed = 0;
    let servedAfter: number | undefined;
    try {
      await waitFor(() => recorder.successes('login') >= 5, { timeoutMs: 60_000, what: 'the load to run' });
      proxy.cut();
      cut = Date.now();
      await waitFor(() => recorder.select('login', cut).some((s) => s.failure !== undefined), {
        what: 'the partition to be felt',
      });

      await apply(clientYaml('gap-client'));
      const deleted = await cp.kubectl(['delete', 'oauth2client', 'doomed-client', '-n', ns]);
      expect(deleted.code).toBe(0);
      const revision = await compactEtcd(cp.env.ETCD_URL!);

      proxy.heal();
      healed = Date.now();
      await waitFor(
        async () =>
          (await passwordGrant('gap-client', 'gap-client-secret')).status === 200 &&
          (await passwordGrant('doomed-client', 'doomed-client-secret')).status === 401,
        { timeoutMs: 60_000, intervalMs: 200, what: 'the caches to catch up after the partition' },
      );
      servedAfter = Date.now() - healed;
      await waitFor(() => recorder.successes('login', healed) >= 5, {
        timeoutMs: 30_000,
        what: 'logins again',
      });
      console.log(`etcd compacted at revision ${revision} during a ${healed - cut} ms partition`);
    } finally {
      await load.stop();
    }
    const listsAfter = await clientLists();
    console.log(
      [
        recorder.report('410 Gone: partition, writes, etcd compaction, heal', ['login']),
        `  client applied during the partition served ${servedAfter} ms after it healed; ` +
          `logins recovered ${recorder.timeToRecover('login', healed)} ms after it healed`,
        `  oauth2clients lists: ${listsBefore} before, ${listsAfter} after (a relist is the answer to 410)`,
      ].join('\n'),
    );

    // The caches relisted (a resumed watch needs no list) and hold the gap's changes.
    expect(listsAfter).toBeGreaterThan(listsBefore);
    expect((await passwordGrant('gap-client', 'gap-client-secret')).status).toBe(200);
    expect(await passwordGrant('doomed-client', 'doomed-client-secret')).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    // Only what needed the API failed during the partition, and only with 503.
    expect(
      Object.keys(recorder.summary('login').reasons).filter((r) => r !== '503 temporarily_unavailable'),
    ).toEqual([]);
    expect(recorder.summary('iteration').reasons).toEqual({});
    expect(server.child.exitCode).toBeNull();
  }, 120_000);
});

/** Compacts etcd up to its current revision through its gRPC gateway (no etcdctl); returns the revision. */
async function compactEtcd(etcdURL: string): Promise<number> {
  const post = async (path: string, body: object) => {
    const res = await fetch(`${etcdURL}${path}`, { method: 'POST', body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    return (await res.json()) as { header: { revision: string } };
  };
  const { header } = await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') });
  await post('/v3/kv/compaction', { revision: header.revision, physical: true });
  return Number(header.revision);
}
