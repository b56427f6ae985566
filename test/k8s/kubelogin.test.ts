import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import {
  ALICE,
  BROWSER_COMMAND,
  KUBE_CLIENT,
  PEERS_DIR,
  cachedIDTokens,
  claimsOf,
  gencert,
  kubectl,
  latchkeyConfig,
  passwordToken,
  runBrowser,
  startLatchkey,
  waitForAuthenticator,
  waitUntilPast,
  type Latchkey,
  type TLSFiles,
  type UserInfo,
} from '../helpers/kube-oidc.js';

const ID_TOKEN_LIFETIME_S = 12;

interface Kubeconfig {
  users: { name: string; user: { exec: { command: string; args: string[]; apiVersion: string } } }[];
  'current-context': string;
}

// Seed §5 "kubelogin", for real: kubectl runs kubelogin v1.36.3 as its exec plugin, with the kubeconfig that
// `latchkey kubeconfig` prints, to log in with the password grant, the authorization code flow (a headless
// browser driving Latchkey's pages) and the device flow; kubelogin caches the tokens and refreshes them
// silently. This API server takes the username from `sub` with the flags' default prefix (`<issuer>#`).
describe('kubelogin as the kubectl exec plugin', () => {
  let dir: string;
  let tls: TLSFiles;
  let cp: ControlPlane;
  let latchkey: Latchkey;
  let aliceSub: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-kubelogin-'));
    tls = await gencert();
    latchkey = await startLatchkey(await latchkeyConfig({ tls, dir, idTokens: `${ID_TOKEN_LIFETIME_S}s` }));
    aliceSub = claimsOf(await passwordToken(latchkey, ALICE)).sub;
    cp = await startControlPlane({
      extraApiserverArgs: [
        `--oidc-issuer-url=${latchkey.issuer}`,
        `--oidc-client-id=${KUBE_CLIENT}`,
        `--oidc-ca-file=${tls.ca}`,
        '--oidc-username-claim=sub',
        '--oidc-groups-claim=groups',
        '--oidc-groups-prefix=oidc:',
      ],
    });
  }, 10 * 60_000);

  afterAll(async () => {
    await cp?.stop();
    await latchkey?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (tls) await rm(tls.dir, { recursive: true, force: true });
  });

  /** The environment kubectl passes down to kubelogin, and kubelogin to the browser command. */
  const env = () => ({
    PATH: `${PEERS_DIR}:${process.env.PATH ?? ''}`, // kubectl-oidc_login
    NODE_EXTRA_CA_CERTS: tls.ca,
    LATCHKEY_TEST_NODE: process.execPath,
    LOGIN_USERNAME: ALICE.email,
    LOGIN_PASSWORD: ALICE.password,
  });

  /**
   * `latchkey kubeconfig` for this cluster, used as printed; only test-only kubelogin flags are appended to
   * the exec arguments (a private token cache, and what makes a login non-interactive).
   */
  async function kubeconfig(grantType: string, testArgs: string[]): Promise<{ file: string; cache: string }> {
    const cache = await mkdtemp(join(dir, `cache-${grantType}-`));
    const r = await runCli([
      'kubeconfig',
      '--issuer',
      latchkey.issuer,
      '--client-id',
      KUBE_CLIENT,
      '--ca-file',
      tls.ca,
      '--grant-type',
      grantType,
      '--cluster',
      `local=${cp.apiURL}`,
      '--cluster-ca',
      `local=${cp.caFile}`,
    ]);
    expect(r.code).toBe(0);
    const doc = parse(r.stdout) as Kubeconfig;
    expect(doc['current-context']).toBe('local');
    const exec = doc.users[0]!.user.exec;
    expect(exec).toMatchObject({ apiVersion: 'client.authentication.k8s.io/v1', command: 'kubectl' });
    expect(exec.args.slice(0, 2)).toEqual(['oidc-login', 'get-token']);
    exec.args.push(`--token-cache-dir=${cache}`, ...testArgs);
    const file = join(dir, `kubeconfig-${grantType}`);
    await writeFile(file, stringify(doc));
    return { file, cache };
  }

  async function whoamiAs(file: string, onStderr?: (stderr: string) => void) {
    const r = await kubectl(['--kubeconfig', file, '--user=oidc', 'auth', 'whoami', '-o', 'json'], {
      env: env(),
      ...(onStderr ? { onStderr } : {}),
    });
    if (r.code !== 0) throw new Error(`kubectl auth whoami failed (${r.code}):\n${r.stderr}`);
    return { ...r, user: (JSON.parse(r.stdout) as { status: { userInfo: UserInfo } }).status.userInfo };
  }

  it('names users <issuer>#<sub> with --oidc-username-claim=sub', async () => {
    const user = await waitForAuthenticator(cp, () => passwordToken(latchkey, ALICE));
    expect(user.username).toBe(`${latchkey.issuer}#${aliceSub}`);
    expect(user.groups).toEqual(['oidc:devs', 'system:authenticated']);
  }, 90_000);

  it('logs in with --grant-type=password, then uses the cached token, then refreshes it silently', async () => {
    const { file, cache } = await kubeconfig('password', [
      `--username=${ALICE.email}`,
      `--password=${ALICE.password}`,
    ]);
    const before = {
      password: latchkey.issued('password'),
      refresh: latchkey.issued('refresh_token'),
      tokenRequests: latchkey.requests('/dex/token'),
    };

    const first = await whoamiAs(file);
    expect(first.user.username).toBe(`${latchkey.issuer}#${aliceSub}`);
    expect(first.user.groups).toEqual(['oidc:devs', 'system:authenticated']);
    await waitFor(
      () =>
        latchkey.issued('password') === before.password + 1 &&
        latchkey.requests('/dex/token') === before.tokenRequests + 1,
      { what: 'one password grant at /token' },
    );
    const [cached] = await cachedIDTokens(cache);
    expect(claimsOf(cached!)).toMatchObject({ sub: aliceSub, aud: KUBE_CLIENT });

    // Second call: kubelogin answers from its cache without asking Latchkey anything (not even discovery).
    const requests = latchkey.requests();
    const second = await whoamiAs(file);
    expect(second.user.username).toBe(first.user.username);
    expect(latchkey.requests()).toBe(requests);

    // Once the ID token has expired, kubelogin redeems its refresh token, without asking anything.
    await waitUntilPast(claimsOf(cached!).exp);
    const third = await whoamiAs(file);
    expect(third.user.username).toBe(first.user.username);
    await waitFor(
      () =>
        latchkey.issued('refresh_token') === before.refresh + 1 &&
        latchkey.requests('/dex/token') === before.tokenRequests + 2,
      { what: 'one refresh at /token' },
    );
    expect(latchkey.issued('password')).toBe(before.password + 1);
    const [refreshed] = await cachedIDTokens(cache);
    expect(claimsOf(refreshed!).exp).toBeGreaterThan(claimsOf(cached!).exp);
  }, 90_000);

  it('logs in with --grant-type=authcode through a browser command that drives Latchkey’s pages', async () => {
    const port = await freePort();
    const { file } = await kubeconfig('authcode', [
      `--browser-command=${BROWSER_COMMAND}`,
      `--listen-address=127.0.0.1:${port}`,
    ]);
    const before = latchkey.issued('authorization_code');
    const r = await whoamiAs(file);
    expect(r.user.username).toBe(`${latchkey.issuer}#${aliceSub}`);
    await waitFor(() => latchkey.issued('authorization_code') === before + 1, { what: 'the code grant' });
    // The browser went through Latchkey's password form and approval screen to kubelogin's callback.
    expect(r.stderr).toMatch(/browser: password → /);
    expect(r.stderr).toMatch(/browser: approval → /);
    expect(r.stderr).toContain(`browser: finished at http://localhost:${port}/ (HTTP 200)`);
  }, 90_000);

  it('logs in with --grant-type=device-code: the user enters the printed code on Latchkey’s device page', async () => {
    const { file } = await kubeconfig('device-code', ['--skip-open-browser']);
    const before = latchkey.issued('device_code');
    let user: Promise<Awaited<ReturnType<typeof runBrowser>>> | undefined;
    const r = await whoamiAs(file, (stderr) => {
      const m = /Please visit the following URL in your browser: (\S+)/.exec(stderr);
      if (!m || user) return;
      // The person at another device: opens the verification page and types the code kubelogin showed.
      const url = new URL(m[1]!);
      const code = url.searchParams.get('user_code')!;
      url.search = '';
      user = runBrowser(url.toString(), { ...env(), LOGIN_USER_CODE: code });
    });
    expect(user).toBeDefined();
    const login = await user!;
    expect(login.stderr).toMatch(/browser: user code → /);
    expect(login.stderr).toMatch(
      /browser: finished at https:\/\/127\.0\.0\.1:\d+\/dex\/device\/callback \(HTTP 200\)/,
    );
    expect(login.code).toBe(0);
    expect(r.user.username).toBe(`${latchkey.issuer}#${aliceSub}`);
    await waitFor(() => latchkey.issued('device_code') === before + 1, { what: 'the device grant' });
  }, 90_000);
});
