import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { parse, stringify } from 'yaml';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  gencert,
  readmeApiserverFlags,
  waitForAuthenticator,
  whoami,
  type TLSFiles,
} from '../helpers/kube-oidc.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import {
  DESKTOP,
  PHONE,
  fitsWidth,
  launchChromium,
  screenshotDir,
  seriousAxeViolations,
  watchProblems,
  type Chromium,
  type PageProblems,
} from '../helpers/chromium.js';
import {
  BEARER_API,
  LATCHKEY_BIN,
  startProgram,
  waitForHttp,
  waitForStderr,
  type Program,
} from './programs.js';

// The README's quick start, run for real: examples/example-app/config.yaml served over HTTPS (gencert.sh
// CA), `latchkey example-app` started with the README's flags, a user in headless Chromium going from the
// app through Latchkey's chooser, password and approval pages back to the app's token page, then Refresh;
// the ID token accepted by `kubectl auth whoami` against a kube-apiserver started with the README's
// --oidc-* flags (--oidc-client-id=kubernetes: the token's cross-client audience), and by the bearer API
// example. Then `example-app --device`. Screenshots: test-results/example-app/.

const ADMIN = { email: 'admin@example.com', password: 'password', groups: ['team-a', 'team-a/admins'] };
const HOSTILE = '<img src=x onerror=alert(1)>';

/** The quick start's `latchkey example-app …` command line, from the README (words after the command). */
async function quickStartExampleAppArgs(): Promise<{ serve: string; args: string[] }> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const quickStart = readme.slice(0, readme.indexOf('\n## Commands\n'));
  for (const m of quickStart.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const line = m[1]!.split('\n').find((l) => l.startsWith('npx latchkey example-app '));
    const serve = m[1]!.split('\n').find((l) => l.startsWith('npx latchkey serve '));
    if (line && serve) {
      return {
        serve: serve.split('#')[0]!.trim(),
        args: line.split('#')[0]!.trim().split(/\s+/).slice(3),
      };
    }
  }
  throw new Error(
    'the README quick start has no block with `npx latchkey serve` and `npx latchkey example-app`',
  );
}

/** Replaces the value of `--flag VALUE` in an argument list (the flag must be there). */
function withFlag(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  if (i < 0) throw new Error(`the README's example-app command has no ${flag}`);
  return [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
}

describe('latchkey example-app: the README quick start in Chromium, kubectl and the bearer API', () => {
  let dir: string;
  let tls: TLSFiles;
  let issuer: string;
  let latchkey: ServerProcess;
  let cp: ControlPlane;
  let app: Program;
  let appURL: string;
  let api: Program;
  let apiURL: string;
  let chromium: Chromium;
  let exampleAppArgs: string[];
  let shots: string;

  beforeAll(async () => {
    shots = await screenshotDir('example-app');
    dir = await mkdtemp(join(tmpdir(), 'latchkey-example-app-'));
    tls = await gencert();
    const quickStart = await quickStartExampleAppArgs();
    expect(quickStart.serve).toBe('npx latchkey serve examples/example-app/config.yaml');

    // The quick start's config, moved to free ports and this test's certificate.
    const [port, telemetryPort, appPort, apiPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const doc = parse(await readFile(join(REPO_ROOT, 'examples/example-app/config.yaml'), 'utf8')) as Record<
      string,
      unknown
    > & { staticClients: { id: string; redirectURIs: string[] }[] };
    issuer = `https://127.0.0.1:${port}/dex`;
    expect(doc.issuer).toBe('https://127.0.0.1:5554/dex');
    doc.issuer = issuer;
    doc.web = { https: `127.0.0.1:${port}`, tlsCert: tls.cert, tlsKey: tls.key };
    doc.telemetry = { http: `127.0.0.1:${telemetryPort}` };
    doc.logger = { level: 'info', format: 'json' };
    appURL = `http://127.0.0.1:${appPort}`;
    const exampleApp = doc.staticClients.find((c) => c.id === 'example-app')!;
    expect(exampleApp.redirectURIs).toEqual(['http://127.0.0.1:5555/callback']);
    exampleApp.redirectURIs = [`${appURL}/callback`];
    const file = join(dir, 'config.yaml');
    await writeFile(file, stringify(doc));
    latchkey = await startServer(file, `http://127.0.0.1:${telemetryPort}/healthz/ready`);

    // The README's kube-apiserver flags for this issuer (Latchkey signs with RS256 here, the default on
    // both sides, so the README's optional ES256 line is left out).
    const flags = (await readmeApiserverFlags(issuer, tls.ca)).filter(
      (f) => !f.startsWith('--oidc-signing-algs='),
    );
    expect(flags).toContain('--oidc-client-id=kubernetes');
    cp = await startControlPlane({ extraApiserverArgs: flags });

    exampleAppArgs = withFlag(withFlag(quickStart.args, '--issuer', issuer), '--issuer-root-ca', tls.ca);
    app = startProgram([
      LATCHKEY_BIN,
      'example-app',
      ...exampleAppArgs,
      '--listen',
      appURL,
      '--redirect-uri',
      `${appURL}/callback`,
    ]);
    await waitForHttp(app, `${appURL}/`);

    apiURL = `http://127.0.0.1:${apiPort}`;
    api = startProgram(
      [BEARER_API, '--issuer', issuer, '--client-id', 'example-app', '--listen', `127.0.0.1:${apiPort}`],
      { env: { NODE_EXTRA_CA_CERTS: tls.ca } },
    );
    await waitForHttp(api, `${apiURL}/healthz`);

    chromium = await launchChromium();
  }, 10 * 60_000);

  afterAll(async () => {
    await chromium?.stop();
    await api?.stop();
    await app?.stop();
    await cp?.stop();
    await latchkey?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (tls) await rm(tls.dir, { recursive: true, force: true });
  });

  /** A fresh browser; Chromium is not told about the test CA, so certificate errors are ignored. */
  async function openBrowser(): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
    const context = await chromium.browser.newContext({ viewport: DESKTOP, ignoreHTTPSErrors: true });
    const problems = await watchProblems(context);
    return { context, page: await context.newPage(), problems };
  }

  function expectNoProblems(problems: PageProblems): void {
    expect(problems).toEqual({ cspViolations: [], consoleErrors: [], failedResources: [], dialogs: [] });
  }

  /** axe-core finds no serious or critical problem; screenshots at desktop and phone width. */
  async function check(page: Page, name: string): Promise<void> {
    expect({ page: name, violations: await seriousAxeViolations(page) }).toEqual({
      page: name,
      violations: [],
    });
    await page.screenshot({ path: join(shots, `desktop-${name}.png`), fullPage: true });
    await page.setViewportSize(PHONE);
    expect({ page: name, fits: await fitsWidth(page) }).toEqual({ page: name, fits: true });
    await page.screenshot({ path: join(shots, `phone-${name}.png`), fullPage: true });
    await page.setViewportSize(DESKTOP);
  }

  const text = (page: Page, selector: string) => page.locator(selector).innerText();

  /** On Latchkey's chooser: the password login and the approval of Example App's request. */
  async function logInAndApprove(page: Page, opts: { capture?: boolean } = {}): Promise<void> {
    expect(await text(page, 'h1')).toBe('Log in to Latchkey');
    expect(await page.getByRole('link').allInnerTexts()).toEqual(
      expect.arrayContaining(['Log in with Email', 'Log in with Example']),
    );
    if (opts.capture) await check(page, 'latchkey-chooser');
    await page.getByRole('link', { name: 'Log in with Email' }).click();
    await page.getByLabel('Email Address').fill(ADMIN.email);
    await page.getByLabel('Password').fill(ADMIN.password);
    if (opts.capture) await check(page, 'latchkey-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    expect(await text(page, 'h1')).toBe('Grant access');
    expect(await text(page, '.dex-client')).toBe('Example App');
    expect(await page.locator('.dex-scopes li').allInnerTexts()).toContain('Sign you in to "kubernetes"');
    if (opts.capture) await check(page, 'latchkey-approval');
    await page.getByRole('button', { name: 'Grant access' }).click();
  }

  /** The token page's content. */
  async function tokenPage(page: Page) {
    return {
      heading: await text(page, 'h1'),
      claims: JSON.parse(await text(page, '#claims')) as Record<string, unknown>,
      idToken: (await text(page, '#id-token')).trim(),
      accessToken: (await text(page, '#access-token')).trim(),
      refreshToken: (await text(page, '#refresh-token')).trim(),
      kubeconfig: (await text(page, '#kubeconfig')).trim(),
    };
  }

  it('logs in (chooser, password, approval), shows the claims, refreshes, and kubectl and the bearer API accept the ID token', async () => {
    const { context, page, problems } = await openBrowser();
    try {
      await page.goto(`${appURL}/`);
      expect(await text(page, 'h1')).toBe('Example App');
      // --cross-client kubernetes from the README fills the field; the scopes come from discovery.
      expect(await page.getByLabel('Cross-client audiences').inputValue()).toBe('kubernetes');
      for (const scope of ['email', 'groups', 'profile', 'offline_access']) {
        expect([scope, await page.getByRole('checkbox', { name: scope, exact: true }).isChecked()]).toEqual([
          scope,
          true,
        ]);
      }
      await check(page, 'start');
      await page.getByRole('button', { name: 'Login' }).click();

      await logInAndApprove(page, { capture: true });
      await page.waitForURL(`${appURL}/callback?**`);
      const first = await tokenPage(page);
      expect(first.heading).toBe(`Logged in as ${ADMIN.email}`);
      expect(first.claims).toMatchObject({
        iss: issuer,
        aud: ['kubernetes', 'example-app'],
        azp: 'example-app',
        email: ADMIN.email,
        email_verified: true,
        groups: ADMIN.groups,
      });
      // The claims shown are the ID token's; the kubeconfig entry carries that token.
      expect(decodeJwt(first.idToken)).toEqual(first.claims);
      expect(first.kubeconfig).toBe(`users:\n- name: "${ADMIN.email}"\n  user:\n    token: ${first.idToken}`);
      expect(first.accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(first.refreshToken).toMatch(/.{20,}/);
      await check(page, 'tokens');

      await page.getByRole('button', { name: 'Refresh' }).click();
      const refreshed = await tokenPage(page);
      expect(refreshed.heading).toBe(`Logged in as ${ADMIN.email}`);
      expect(refreshed.claims).toMatchObject({
        aud: ['kubernetes', 'example-app'],
        email: ADMIN.email,
        groups: ADMIN.groups,
      });
      expect(refreshed.claims.jti).not.toBe(first.claims.jti);
      expect(refreshed.refreshToken).not.toBe(first.refreshToken);
      expect(decodeJwt(refreshed.idToken)).toEqual(refreshed.claims);

      // kubectl: the API server's authenticator has been started before Latchkey answered; it retries.
      const user = await waitForAuthenticator(cp, async () => refreshed.idToken);
      expect(user.username).toBe(`oidc:${ADMIN.email}`);
      expect(user.groups).toEqual(['oidc:team-a', 'oidc:team-a/admins', 'system:authenticated']);
      expect((await whoami(cp, first.idToken)).user?.username).toBe(`oidc:${ADMIN.email}`);

      // The bearer API trusts tokens of example-app: this one names it in aud.
      const me = await fetch(`${apiURL}/me`, { headers: { authorization: `Bearer ${refreshed.idToken}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({
        email: ADMIN.email,
        groups: ADMIN.groups,
        sub: refreshed.claims.sub,
      });
      expectNoProblems(problems);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('checks the state: a forged or replayed callback is refused, and issuer errors are shown as text', async () => {
    const { context, page, problems } = await openBrowser();
    try {
      const forged = await page.goto(`${appURL}/callback?code=abc&state=forged`);
      expect(forged?.status()).toBe(400);
      expect(await text(page, '#error')).toMatch(/^The state does not match a login started in this browser/);

      // A hostile extra scope: Latchkey refuses it and redirects back; the app shows the error as text.
      await page.goto(`${appURL}/`);
      await page.getByLabel('Extra scopes').fill(HOSTILE);
      await page.getByRole('button', { name: 'Login' }).click();
      await page.waitForURL(`${appURL}/callback?**`);
      expect(await text(page, 'h1')).toBe('Login failed');
      // (The field is space-separated: the value arrives as three scopes.)
      expect(await text(page, '#error')).toBe(
        'invalid_scope: Unrecognized scope(s) ["<img","src=x","onerror=alert(1)>"]',
      );
      expect(await page.locator('img[src="x"]').count()).toBe(0);
      await check(page, 'error');

      // A real login's callback works once; the same URL again is a replay.
      await page.goto(`${appURL}/`);
      await page.getByRole('button', { name: 'Login' }).click();
      await logInAndApprove(page);
      await page.waitForURL(`${appURL}/callback?**`);
      expect(await text(page, 'h1')).toBe(`Logged in as ${ADMIN.email}`);
      const replay = await page.reload();
      expect(replay?.status()).toBe(400);
      expect(await text(page, '#error')).toMatch(/^The state does not match/);
      expectNoProblems(problems);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('--device: prints a code, the browser confirms it, the app prints an ID token kubectl accepts', async () => {
    const device = startProgram([LATCHKEY_BIN, 'example-app', '--device', ...exampleAppArgs]);
    const { context, page, problems } = await openBrowser();
    try {
      const [, userCode] = await waitForStderr(device, /enter the code (\S+)\n/);
      const [, url] = await waitForStderr(device, /or open (\S+) and confirm it/);
      expect(url).toBe(`${issuer}/device?user_code=${userCode}`);
      await page.goto(url!);
      expect(await page.getByLabel('Code').inputValue()).toBe(userCode);
      await page.getByRole('button', { name: 'Continue' }).click();
      await logInAndApprove(page);
      expect(await text(page, 'h1')).toBe('Login successful for Example App');

      expect(await device.exited).toBe(0);
      const idToken = device.stdout().trim();
      expect(decodeJwt(idToken)).toMatchObject({
        iss: issuer,
        aud: ['kubernetes', 'example-app'],
        email: ADMIN.email,
        groups: ADMIN.groups,
      });
      expect(device.stderr()).toContain(`Logged in as ${ADMIN.email}`);
      expect(device.stderr()).toContain('A refresh token was issued too (offline_access).');
      const user = await waitFor(async () => (await whoami(cp, idToken)).user, {
        what: 'kubectl auth whoami with the device-flow token',
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      expect(user.username).toBe(`oidc:${ADMIN.email}`);
      expectNoProblems(problems);
    } finally {
      await context.close();
      await device.stop();
    }
  }, 90_000);
});
