import type { JSONWebKeySet } from 'jose';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { ADMIN_USER_CONFIG, writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { basicAuth, browserLogin, postForm } from '../helpers/flows.js';
import { TestBrowser } from '../helpers/browser.js';
import { waitFor } from '../helpers/wait.js';
import * as oidc from 'openid-client';
import { encodeRefreshToken } from '../../src/tokens/refresh-token-wire.js';
import { randomIds } from '../../src/util/ids.js';
import { join } from 'node:path';

// Latchkey on Kubernetes custom-resource storage, against a real kube-apiserver + etcd (issue 4): replicas
// sharing one namespace, request budgets counted client-side, an API-server outage, clients managed with
// kubectl. Each group of tests gets its own namespace (its own key set).
const SECRET = 'ZXhhbXBsZS1hcHAtc2VjcmV0';
const REDIRECT_URI = 'http://127.0.0.1:5555/callback';
const USERS = ADMIN_USER_CONFIG;

describe('Latchkey on Kubernetes storage', () => {
  let cp: ControlPlane;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    cp = await startControlPlane();
  }, 10 * 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await cp?.stop();
  });

  const storageFor = (ns: string) =>
    `storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: ${cp.kubeconfig}\n    namespace: ${ns}\n    crdHandling: ensure`;

  async function start(cfg: TestServerConfig): Promise<ServerProcess> {
    const s = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
    servers.push(s);
    return s;
  }

  const passwordGrant = (
    issuer: string,
    scope = 'openid email offline_access',
    client = ['example-app', SECRET],
  ) =>
    postForm(
      `${issuer}/token`,
      { grant_type: 'password', username: 'admin@example.com', password: 'password', scope },
      basicAuth(client[0]!, client[1]!),
    );
  const refresh = (issuer: string, token: string) =>
    postForm(
      `${issuer}/token`,
      { grant_type: 'refresh_token', refresh_token: token },
      basicAuth('example-app', SECRET),
    );

  const userinfoStatus = async (issuer: string, token: string) =>
    (await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;
  const introspect = async (issuer: string, token: string) =>
    (await postForm(`${issuer}/token/introspect`, { token }, basicAuth('example-app', SECRET))).body;

  async function metric(port: number, pattern: RegExp): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let sum = 0;
    for (const m of text.matchAll(pattern)) sum += Number(m[1]);
    return sum;
  }

  describe('two replicas in one namespace', () => {
    let a: TestServerConfig;
    let b: TestServerConfig;
    const PERIOD_S = 8;

    beforeAll(async () => {
      const ns = await cp.newNamespace('replicas');
      const extra = `${USERS}\nsigner:\n  type: local\n  config:\n    keysRotationPeriod: ${PERIOD_S}s`;
      a = await writeTestConfig({ storage: storageFor(ns), extra });
      b = await writeTestConfig({ storage: storageFor(ns), extra, dir: a.dir });
      await start(a);
      await start(b);
    }, 120_000);

    it('rotate the shared key set once per step and publish the same JWKS', async () => {
      const kids = async (issuer: string) =>
        ((await (await fetch(`${issuer}/keys`)).json()) as JSONWebKeySet).keys.map((k) => k.kid).sort();
      const initial = await kids(a.issuer);
      const rotated = await waitFor(
        async () => {
          const [ka, kb] = await Promise.all([kids(a.issuer), kids(b.issuer)]);
          return ka.length >= initial.length + 1 && JSON.stringify(ka) === JSON.stringify(kb)
            ? ka
            : undefined;
        },
        { timeoutMs: 6 * PERIOD_S * 1000, intervalMs: 250, what: 'a rotation both replicas publish' },
      );
      const rotations = /^latchkey_key_rotations_total\{keyset="signing"\} (\d+)$/gm;
      const [ra, rb] = await Promise.all([
        metric(a.telemetryPort, rotations),
        metric(b.telemetryPort, rotations),
      ]);
      // Every published key beyond the first two came from one rotation by one replica.
      expect(ra + rb).toBe(rotated.length - 2);
      expect(ra + rb).toBeGreaterThanOrEqual(1);
    }, 90_000);

    it('20 concurrent refreshes of one token across both replicas rotate it once', async () => {
      const first = await passwordGrant(a.issuer);
      expect(first.status).toBe(200);
      const token = first.body.refresh_token as string;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => refresh(i % 2 === 0 ? a.issuer : b.issuer, token)),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      const successors = new Set(results.map((r) => r.body.refresh_token));
      expect(successors.size).toBe(1);
      expect(successors.has(token)).toBe(false);
    });

    it('a code redeemed at both replicas at once succeeds exactly once', async () => {
      const rp = await oidc.discovery(new URL(a.issuer), 'example-app', SECRET, undefined, {
        execute: [oidc.allowInsecureRequests],
      });
      const { callback, verifier } = await browserLogin(rp, { redirectURI: REDIRECT_URI, scope: 'openid' });
      const form = {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
      };
      const results = await Promise.all(
        [a.issuer, b.issuer].map((issuer) =>
          postForm(`${issuer}/token`, form, basicAuth('example-app', SECRET)),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
      expect(results.find((r) => r.status === 400)!.body.error).toBe('invalid_grant');
    });

    it('a login revoked at one replica ends its access token at the other (issue 13 §8, the watch cache)', async () => {
      // Each replica has its own issuer URL here, so the token is checked where it was issued (a) and revoked
      // at the other (b): a learns of b's revocation through its watch cache alone.
      const login = await passwordGrant(a.issuer);
      const access = login.body.access_token as string;
      expect(await userinfoStatus(a.issuer, access)).toBe(200);
      const revoked = await postForm(
        `${b.issuer}/token/revoke`,
        { token: login.body.refresh_token as string },
        basicAuth('example-app', SECRET),
      );
      expect(revoked.status).toBe(200);
      await waitFor(async () => (await userinfoStatus(a.issuer, access)) === 401, {
        what: 'replica a to refuse the login revoked at b',
      });
      expect(await introspect(a.issuer, access)).toEqual({ active: false });
    });
  });

  describe('browser sessions (issue 15): budgets, and kubectl delete on two replicas', () => {
    let a: TestServerConfig;
    let bPort: number;
    let ns: string;
    const OTHER_REDIRECT = 'http://127.0.0.1:5555/other/callback';

    beforeAll(async () => {
      ns = await cp.newNamespace('sessions');
      const extra = [
        `${USERS}\n  skipApprovalScreen: true`,
        'sessions: {}',
        // A second client that example-app shares its sessions with.
        'staticClients:',
        '- id: example-app',
        `  secret: ${SECRET}`,
        '  name: Example App',
        `  redirectURIs: ['${REDIRECT_URI}']`,
        '  ssoSharedWith: [other-app]',
        '- id: other-app',
        '  name: Other App',
        '  secret: other-secret',
        `  redirectURIs: ['${OTHER_REDIRECT}']`,
      ].join('\n');
      a = await writeTestConfig({ storage: storageFor(ns), extra, noStaticClient: true });
      // Replica b serves the same issuer (as behind one Service) on its own port.
      const b = await writeTestConfig({ storage: storageFor(ns), extra, noStaticClient: true, dir: a.dir });
      const { readFile, writeFile } = await import('node:fs/promises');
      await writeFile(
        b.file,
        (await readFile(b.file, 'utf8')).replace(`issuer: ${b.issuer}`, `issuer: ${a.issuer}`),
      );
      bPort = b.webPort;
      await start(a);
      const sb = await startServer(b.file, `http://127.0.0.1:${bPort}/dex/.well-known/openid-configuration`);
      servers.push(sb);
    }, 120_000);

    const writes =
      /^latchkey_kubernetes_api_requests_total\{verb="(?:create|update|patch|delete)",resource="[^"]*"\} (\d+)$/gm;
    const counts = async () => ({
      writes: await metric(a.telemetryPort, writes),
      reads: await metric(
        a.telemetryPort,
        /^latchkey_kubernetes_api_requests_total\{verb="(?:get|list)",resource="[^"]*"\} (\d+)$/gm,
      ),
    });
    const rpFor = (id: string, secret: string) =>
      oidc.discovery(new URL(a.issuer), id, secret, undefined, { execute: [oidc.allowInsecureRequests] });
    const onReplica = (url: string, port: number) => url.replace(`:${a.webPort}/`, `:${port}/`);

    it('a login with a session costs ≤ 5 writes, an SSO login to a second client ≤ 3', async () => {
      const browser = new TestBrowser();
      const rp = await rpFor('example-app', SECRET);
      const before = await counts();
      const first = await browserLogin(rp, {
        redirectURI: REDIRECT_URI,
        scope: 'openid email offline_access',
        browser,
      });
      await oidc.authorizationCodeGrant(rp, first.callback, {
        pkceCodeVerifier: first.verifier,
        expectedNonce: first.nonce,
        expectedState: first.state,
      });
      const loggedIn = await counts();
      expect(loggedIn.writes - before.writes).toBeLessThanOrEqual(5);
      expect(loggedIn.reads - before.reads).toBeLessThanOrEqual(2);

      const other = await rpFor('other-app', 'other-secret');
      const historyBefore = browser.history.length;
      const sso = await browserLogin(other, {
        redirectURI: OTHER_REDIRECT,
        scope: 'openid email offline_access',
        browser,
      });
      const tokens = await oidc.authorizationCodeGrant(other, sso.callback, {
        pkceCodeVerifier: sso.verifier,
        expectedNonce: sso.nonce,
        expectedState: sso.state,
      });
      expect(browser.history.slice(historyBefore).some((u) => u.includes('/auth/local'))).toBe(false);
      expect(tokens.refresh_token).toBeTruthy();
      const ssoDone = await counts();
      console.log(
        `API requests with sessions: first login ${loggedIn.writes - before.writes} writes, ` +
          `${loggedIn.reads - before.reads} reads; SSO login to a second client ` +
          `${ssoDone.writes - loggedIn.writes} writes, ${ssoDone.reads - loggedIn.reads} reads`,
      );
      expect(ssoDone.writes - loggedIn.writes).toBeLessThanOrEqual(3);
      expect(ssoDone.reads - loggedIn.reads).toBeLessThanOrEqual(2);
    });

    it('kubectl delete of the session logs the user out on both replicas', async () => {
      const browser = new TestBrowser();
      const rp = await rpFor('example-app', SECRET);
      await browserLogin(rp, { redirectURI: REDIRECT_URI, scope: 'openid', browser });
      const silent = (port: number) => {
        const url = oidc.buildAuthorizationUrl(rp, {
          redirect_uri: REDIRECT_URI,
          scope: 'openid',
          prompt: 'none',
          state: 's',
        });
        return browser.open(onReplica(url.toString(), port), { stopAt: REDIRECT_URI });
      };
      const signedIn = async (port: number) => {
        const page = await silent(port);
        return new URL(page.url).searchParams.has('code');
      };
      expect(await signedIn(a.webPort)).toBe(true);
      expect(await signedIn(bPort)).toBe(true);

      const listed = await cp.kubectl(['get', 'authsessions', '-n', ns, '-o', 'name']);
      expect(listed.code).toBe(0);
      const names = listed.stdout.trim().split('\n').filter(Boolean);
      expect(names.length).toBeGreaterThanOrEqual(1);
      // Every session in this namespace ends (the first test's too): the user's is among them.
      const deleted = await cp.kubectl(['delete', ...names, '-n', ns]);
      expect(deleted.code).toBe(0);
      for (const port of [a.webPort, bPort]) {
        await waitFor(async () => ((await signedIn(port)) ? undefined : true), {
          what: `replica on port ${port} to see the session deleted`,
        });
        const page = await silent(port);
        expect(new URL(page.url).searchParams.get('error')).toBe('login_required');
      }
    });
  });

  describe('web.workers: 2 is one replica to the API server (issue 16 item 1)', () => {
    const IDLE_MS = 12_000;
    const kinds = {
      writes:
        /^latchkey_kubernetes_api_requests_total\{verb="(?:create|update|patch|delete)",resource="[^"]*"\} (\d+)$/gm,
      reads: /^latchkey_kubernetes_api_requests_total\{verb="(?:get|list)",resource="[^"]*"\} (\d+)$/gm,
      watches: /^latchkey_kubernetes_api_requests_total\{verb="watch",resource="[^"]*"\} (\d+)$/gm,
    };
    const counts = async (port: number) => ({
      writes: await metric(port, kinds.writes),
      reads: await metric(port, kinds.reads),
      watches: await metric(port, kinds.watches),
    });
    const minus = (a: Record<string, number>, b: Record<string, number>) =>
      Object.fromEntries(Object.keys(a).map((k) => [k, a[k]! - b[k]!]));

    /** API requests of a login, a refresh and an idle while, on a replica with `workers` processes. */
    async function measure(workers: number) {
      const ns = await cp.newNamespace(`workers-${workers}`);
      const cfg = await writeTestConfig({
        storage: storageFor(ns),
        extra: `${USERS}\n  skipApprovalScreen: true`,
      });
      const { readFile, writeFile } = await import('node:fs/promises');
      await writeFile(
        cfg.file,
        (await readFile(cfg.file, 'utf8')).replace(/^web:\n/m, `web:\n  workers: ${workers}\n`),
      );
      const server = await start(cfg);
      const children = (await readFile(`/proc/${server.child.pid}/task/${server.child.pid}/children`, 'utf8'))
        .trim()
        .split(/\s+/)
        .filter(Boolean);
      const rp = await oidc.discovery(new URL(cfg.issuer), 'example-app', SECRET, undefined, {
        execute: [oidc.allowInsecureRequests],
      });
      // Warm up (connectors opened, caches filled), then count.
      await passwordGrant(cfg.issuer);
      const t0 = await counts(cfg.telemetryPort);
      const login = await browserLogin(rp, {
        redirectURI: REDIRECT_URI,
        scope: 'openid email offline_access',
      });
      const tokens = await oidc.authorizationCodeGrant(rp, login.callback, {
        pkceCodeVerifier: login.verifier,
        expectedNonce: login.nonce,
        expectedState: login.state,
      });
      const t1 = await counts(cfg.telemetryPort);
      await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
      const t2 = await counts(cfg.telemetryPort);
      // Idle: what the replica asks of the API server on its own (watches, Lease, storage checks).
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
      const t3 = await counts(cfg.telemetryPort);
      await server.stop();
      return {
        processes: children.length,
        login: minus(t1, t0),
        refresh: minus(t2, t1),
        idle: minus(t3, t2),
      };
    }

    it('costs the same API requests per login, refresh and idle while as one worker', async () => {
      const one = await measure(1);
      const two = await measure(2);
      console.log(`API requests, 1 worker: ${JSON.stringify(one)}; 2 workers: ${JSON.stringify(two)}`);
      expect(one.processes).toBe(0);
      expect(two.processes).toBe(2);
      expect(two.login).toEqual(one.login);
      expect(two.refresh).toEqual(one.refresh);
      // Idle work runs on timers that need not line up with the window: one request either way.
      for (const k of Object.keys(one.idle)) {
        expect(Math.abs(two.idle[k]! - one.idle[k]!)).toBeLessThanOrEqual(1);
      }
    }, 120_000);
  });

  describe('one replica: budgets, clients from kubectl, an outage', () => {
    let ns: string;
    let d: TestServerConfig;

    beforeAll(async () => {
      ns = await cp.newNamespace('single');
      d = await writeTestConfig({ storage: storageFor(ns), extra: USERS });
      await start(d);
    }, 120_000);

    const writes =
      /^latchkey_kubernetes_api_requests_total\{verb="(?:create|update|patch|delete)",resource="[^"]*"\} (\d+)$/gm;
    const reads = /^latchkey_kubernetes_api_requests_total\{verb="(?:get|list)",resource="[^"]*"\} (\d+)$/gm;
    const counts = async () => ({
      writes: await metric(d.telemetryPort, writes),
      reads: await metric(d.telemetryPort, reads),
    });

    it('keeps the request budgets: 0 writes anonymous, ≤ 5 writes and ≤ 2 reads a login, ≤ 2 writes and 0 reads a refresh', async () => {
      const before = await counts();
      const browser = new TestBrowser();
      const params = new URLSearchParams({
        client_id: 'example-app',
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'openid',
      });
      for (let i = 0; i < 10; i++) {
        const page = await browser.open(`${d.issuer}/auth?${params}&state=bot-${i}&connector_id=local`);
        expect(page.status).toBe(200);
      }
      const anonymous = await counts();
      expect(anonymous.writes - before.writes).toBe(0);
      expect(anonymous.reads - before.reads).toBe(0);

      const rp = await oidc.discovery(new URL(d.issuer), 'example-app', SECRET, undefined, {
        execute: [oidc.allowInsecureRequests],
      });
      const loginStart = await counts();
      const { callback, verifier, nonce, state } = await browserLogin(rp, {
        redirectURI: REDIRECT_URI,
        scope: 'openid email offline_access',
      });
      const tokens = await oidc.authorizationCodeGrant(rp, callback, {
        pkceCodeVerifier: verifier,
        expectedNonce: nonce,
        expectedState: state,
      });
      const loggedIn = await counts();
      expect(loggedIn.writes - loginStart.writes).toBeLessThanOrEqual(5);
      expect(loggedIn.reads - loginStart.reads).toBeLessThanOrEqual(2);

      await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
      const refreshed = await counts();
      expect(refreshed.writes - loggedIn.writes).toBeLessThanOrEqual(2);
      // The token this replica wrote at login is in its token cache: a refresh reads nothing (issue 16 §3).
      expect(refreshed.reads - loggedIn.reads).toBe(0);
    });

    it('checks a login is alive at /userinfo and introspection with 0 API requests per call (issue 13 §8)', async () => {
      const login = await passwordGrant(d.issuer);
      expect(login.status).toBe(200);
      const access = login.body.access_token as string;
      const before = await counts();
      for (let i = 0; i < 20; i++) expect(await userinfoStatus(d.issuer, access)).toBe(200);
      for (let i = 0; i < 5; i++) expect(await introspect(d.issuer, access)).toMatchObject({ active: true });
      expect(await counts()).toEqual(before);

      // Revoking writes the revocation and deletes the refresh token; the token is refused at once.
      const revoked = await postForm(
        `${d.issuer}/token/revoke`,
        { token: login.body.refresh_token as string },
        basicAuth('example-app', SECRET),
      );
      expect(revoked.status).toBe(200);
      const afterRevoke = await counts();
      expect(afterRevoke.writes - before.writes).toBe(2);
      for (let i = 0; i < 20; i++) expect(await userinfoStatus(d.issuer, access)).toBe(401);
      expect(await introspect(d.issuer, access)).toEqual({ active: false });
      expect(await counts()).toEqual(afterRevoke);
    });

    it('costs 0 writes for made-up credentials at /token, and not even a read for malformed ones', async () => {
      const post = (form: Record<string, string>) =>
        fetch(`${d.issuer}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${Buffer.from(`example-app:${SECRET}`).toString('base64')}`,
          },
          body: new URLSearchParams(form).toString(),
        });
      const redirect = { redirect_uri: REDIRECT_URI };
      const before = await counts();
      const malformed: Record<string, string>[] = [
        { grant_type: 'authorization_code', code: 'not-a-code', ...redirect },
        { grant_type: 'authorization_code', code: 'x'.repeat(300), ...redirect },
        { grant_type: 'refresh_token', refresh_token: 'bm90LWEtdG9rZW4' },
        { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'short' },
      ];
      for (const form of malformed) expect((await post(form)).status).toBe(400);
      const afterMalformed = await counts();
      expect(afterMalformed).toEqual(before);

      // Well-formed but never issued: a read each (rate-limited), never a write, not even the replay
      // revocation a reused code would trigger.
      const madeUp: Record<string, string>[] = [
        { grant_type: 'authorization_code', code: randomIds.newID(), ...redirect },
        {
          grant_type: 'refresh_token',
          refresh_token: encodeRefreshToken(randomIds.newID(), randomIds.newID()),
        },
        { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: randomIds.newSecret() },
      ];
      for (const form of madeUp) expect((await post(form)).status).toBe(400);
      const afterMadeUp = await counts();
      expect(afterMadeUp.writes).toBe(before.writes);
      expect(afterMadeUp.reads - before.reads).toBeLessThanOrEqual(madeUp.length + 1);
    });

    it('serves a client created with kubectl apply, without a restart', async () => {
      const applied = await cp.kubectl([
        'apply',
        '-n',
        ns,
        '-f',
        join(REPO_ROOT, 'examples/k8s/oauth2client.yaml'),
      ]);
      expect(applied.code).toBe(0);
      // The static example-app of the config would hide it: this client is another ID.
      const r = await waitFor(
        async () => {
          const res = await passwordGrant(d.issuer, 'openid', ['example-app', SECRET]);
          return res.status === 200 ? res : undefined;
        },
        { timeoutMs: 20_000, what: 'the applied client to be usable' },
      );
      expect(r.body.id_token).toEqual(expect.any(String));
      const columns = await cp.kubectl(['get', 'oauth2clients,refreshtokens', '-n', ns]);
      expect(columns.stdout).toMatch(/NAME\s+PUBLIC\s+READY\s+REASON\s+AGE/);
      // The server judged it and said so (issue 17 item 6).
      await waitFor(
        async () =>
          /example-app\s+Example App\s+false\s+True\s+Accepted\s/.test(
            (await cp.kubectl(['get', 'oauth2clients', 'example-app', '-n', ns])).stdout,
          ),
        { what: 'kubectl get to show the applied client Ready' },
      );
    });

    it('reports unready and answers 503 while the API server is down, and recovers', async () => {
      const grant = await passwordGrant(d.issuer);
      const token = grant.body.refresh_token as string;
      const listTokens = async () =>
        (await cp.kubectl(['get', 'refreshtokens', '-n', ns, '-o', 'name'])).stdout.trim().split('\n').sort();
      const before = await listTokens();

      await cp.stopApiserver();
      try {
        await waitFor(
          async () => (await fetch(`http://127.0.0.1:${d.telemetryPort}/healthz/ready`)).status === 503,
          {
            timeoutMs: 30_000,
            what: 'readiness to turn false',
          },
        );
        const r = await refresh(d.issuer, token);
        expect(r.status).toBe(503);
        expect(r.body.error).toBe('temporarily_unavailable');
        // A login cannot be finished: an error page, nothing half-written.
        const browser = new TestBrowser();
        const params = new URLSearchParams({
          client_id: 'example-app',
          redirect_uri: REDIRECT_URI,
          response_type: 'code',
          scope: 'openid',
          connector_id: 'local',
        });
        const form = await browser.open(`${d.issuer}/auth?${params}`);
        const page = await browser.submit(form, { login: 'admin@example.com', password: 'password' });
        expect(page.status).toBe(503);
        expect((await fetch(`http://127.0.0.1:${d.telemetryPort}/healthz/live`)).status).toBe(200);
      } finally {
        await cp.startApiserver();
      }
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${d.telemetryPort}/healthz/ready`)).status === 200,
        {
          timeoutMs: 60_000,
          what: 'readiness to recover',
        },
      );
      const after = await waitFor(
        async () => ((await refresh(d.issuer, token)).status === 200 ? true : undefined),
        {
          timeoutMs: 60_000,
          what: 'refresh to work again',
        },
      );
      expect(after).toBe(true);
      expect(await listTokens()).toEqual(before);
    }, 180_000);
  });
});
