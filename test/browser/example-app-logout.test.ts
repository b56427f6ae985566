import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { parse } from 'yaml';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { exampleConfig, type TestServerConfig } from '../helpers/config.js';
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
import { LATCHKEY_BIN, startProgram, waitForHttp, type Program } from './programs.js';
import { readmeSection } from './readme.js';

// examples/config-sessions.yaml run as its header comment and the README say — `latchkey serve` on it, `latchkey
// example-app` and the second app with the comment's flags, moved to free ports — and a user in headless
// Chromium: a login through the example app, single sign-on to the second app, Log out (RP-Initiated Logout
// back to the app's `/` with its state), the back-channel logout tokens Latchkey then POSTs accepted by both
// apps (listed on their start pages, logged without the token), and a password asked for again. Screenshots:
// test-results/example-app-logout/.

const ADMIN = { email: 'admin@example.com', password: 'password' };
const EXAMPLE = 'examples/config-sessions.yaml';

/** The `latchkey example-app …` command lines of the example's header comment (words after the command). */
async function headerCommands(): Promise<string[][]> {
  const text = await readFile(join(REPO_ROOT, EXAMPLE), 'utf8');
  const header = text
    .split('\n')
    .filter((l) => l.startsWith('#'))
    .map((l) => l.replace(/^#\s?/, ''))
    .join('\n')
    .replace(/\\\n\s*/g, ' ');
  return [...header.matchAll(/^\s*latchkey example-app(.*)$/gm)].map((m) =>
    m[1]!
      .trim()
      .split(/\s+/)
      .filter((w) => w !== ''),
  );
}

/** The commands of the README's logout trial: the quick start's code block that serves the example. */
async function readmeLogoutCommands(): Promise<string[]> {
  const section = await readmeSection('Try it on your machine');
  for (const m of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    if (m[1]!.includes(EXAMPLE)) {
      return m[1]!
        .split('\n')
        .map((l) => l.split('#')[0]!.trim())
        .filter((l) => l !== '');
    }
  }
  throw new Error(`README "Try it on your machine" has no sh block with ${EXAMPLE}`);
}

/** Replaces the value of `--flag VALUE` in an argument list (the flag must be there). */
function withFlag(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  if (i < 0) throw new Error(`the header's example-app command has no ${flag}`);
  return [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
}

interface StaticClient {
  id: string;
  redirectURIs: string[];
  postLogoutRedirectURIs?: string[];
  backchannelLogoutURI?: string;
}

describe('latchkey example-app: logout with examples/config-sessions.yaml in Chromium', () => {
  let cfg: TestServerConfig;
  let latchkey: ServerProcess;
  let first: Program;
  let second: Program;
  let firstURL: string;
  let secondURL: string;
  let chromium: Chromium;
  let shots: string;

  beforeAll(async () => {
    shots = await screenshotDir('example-app-logout');
    const [firstPort, secondPort] = await Promise.all([freePort(), freePort()]);
    firstURL = `http://127.0.0.1:${firstPort}`;
    secondURL = `http://127.0.0.1:${secondPort}`;
    // The example's clients, moved from ports 5555 and 5557 to this test's (and checked to be on those first,
    // so that the example and this test cannot drift apart unnoticed).
    const move = (c: StaticClient, from: string, to: string) => {
      expect([c.id, c.redirectURIs, c.postLogoutRedirectURIs, c.backchannelLogoutURI]).toEqual([
        c.id,
        [`${from}/callback`],
        [`${from}/`],
        `${from}/backchannel-logout`,
      ]);
      c.redirectURIs = [`${to}/callback`];
      c.postLogoutRedirectURIs = [`${to}/`];
      c.backchannelLogoutURI = `${to}/backchannel-logout`;
    };
    // The header runs the first app with its defaults: the example's issuer must be the app's default one.
    const original = parse(await readFile(join(REPO_ROOT, EXAMPLE), 'utf8')) as { issuer: string };
    expect(original.issuer).toBe('http://127.0.0.1:5556/dex');
    cfg = await exampleConfig(EXAMPLE, (doc) => {
      const clients = doc.staticClients as StaticClient[];
      expect(clients.map((c) => c.id)).toEqual(['example-app', 'second-app']);
      move(clients[0]!, 'http://127.0.0.1:5555', firstURL);
      move(clients[1]!, 'http://127.0.0.1:5557', secondURL);
    });
    latchkey = await startServer(cfg.file, `http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);

    // The README's "Try it on your machine" runs the same two commands as the header's first app.
    expect(await readmeLogoutCommands()).toEqual([
      'npx latchkey serve examples/config-sessions.yaml',
      'npx latchkey example-app',
    ]);
    // The header's two command lines: the first with the defaults (issuer http://127.0.0.1:5556/dex, port
    // 5555), the second on port 5557 as second-app. Only the addresses change.
    const [firstArgs, secondArgs] = await headerCommands();
    expect(firstArgs).toEqual([]);
    expect(secondArgs).toEqual([
      '--listen',
      'http://127.0.0.1:5557',
      '--redirect-uri',
      'http://127.0.0.1:5557/callback',
      '--client-id',
      'second-app',
      '--client-secret',
      'second-app-secret',
    ]);
    first = startProgram([
      LATCHKEY_BIN,
      'example-app',
      '--issuer',
      cfg.issuer,
      '--listen',
      firstURL,
      '--redirect-uri',
      `${firstURL}/callback`,
    ]);
    second = startProgram([
      LATCHKEY_BIN,
      'example-app',
      '--issuer',
      cfg.issuer,
      ...withFlag(withFlag(secondArgs!, '--listen', secondURL), '--redirect-uri', `${secondURL}/callback`),
    ]);
    await Promise.all([waitForHttp(first, `${firstURL}/`), waitForHttp(second, `${secondURL}/`)]);
    chromium = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await chromium?.stop();
    await second?.stop();
    await first?.stop();
    await latchkey?.stop();
    if (cfg) await rm(cfg.dir, { recursive: true, force: true });
  });

  async function openBrowser(): Promise<{ context: BrowserContext; problems: PageProblems }> {
    const context = await chromium.browser.newContext({ viewport: DESKTOP });
    return { context, problems: await watchProblems(context) };
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

  /**
   * From the app's start page to its token page: which of Latchkey's pages came on the way. Single sign-on
   * skips the password; approval is asked once per client in a session (the example does not skip it).
   */
  async function login(
    page: Page,
    appURL: string,
    client: string,
  ): Promise<{ askedPassword: boolean; askedApproval: boolean }> {
    const onCallback = (u: URL) => u.origin === appURL && u.pathname === '/callback';
    await page.goto(`${appURL}/`);
    await page.getByRole('button', { name: 'Login' }).click();
    await page.waitForURL((u) => u.origin !== appURL || onCallback(u));
    const askedPassword = !onCallback(new URL(page.url())) && (await text(page, 'h1')) !== 'Grant access';
    if (askedPassword) {
      await page.getByLabel('Email Address').fill(ADMIN.email);
      await page.getByLabel('Password').fill(ADMIN.password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL((u) => u.pathname.endsWith('/approval') || onCallback(u));
    }
    const askedApproval = !onCallback(new URL(page.url()));
    if (askedApproval) {
      expect(await text(page, 'h1')).toBe('Grant access');
      expect(await text(page, '.dex-client')).toBe(client);
      await page.getByRole('button', { name: 'Grant access' }).click();
      await page.waitForURL(`${appURL}/callback?**`);
    }
    expect(await text(page, 'h1')).toBe(`Logged in as ${ADMIN.email}`);
    return { askedPassword, askedApproval };
  }

  async function claimsOn(page: Page): Promise<Record<string, unknown>> {
    return JSON.parse(await text(page, '#claims')) as Record<string, unknown>;
  }

  /** The sessions an app's start page lists as logged out over the back channel (fetched, not browsed). */
  async function backchannelSessions(appURL: string): Promise<string[]> {
    const html = await (await fetch(`${appURL}/`)).text();
    return [...html.matchAll(/<li><time [^>]*>[^<]*<\/time>: session <code>([^<]*)<\/code>/g)].map(
      (m) => m[1]!,
    );
  }

  it('logs in, signs in to the second app without the password, logs out through Latchkey, and both apps hear of it', async () => {
    const { context, problems } = await openBrowser();
    try {
      const page = await context.newPage();
      expect(await login(page, firstURL, 'Example App')).toEqual({
        askedPassword: true,
        askedApproval: true,
      });
      const claims = await claimsOn(page);
      const idToken = (await text(page, '#id-token')).trim();
      expect(typeof claims.sid).toBe('string');
      expect(decodeJwt(idToken)).toEqual(claims);
      await check(page, 'tokens');

      // Single sign-on, in another tab of the same browser: the same session.
      const secondPage = await context.newPage();
      expect(await login(secondPage, secondURL, 'Second App')).toEqual({
        askedPassword: false,
        askedApproval: true,
      });
      const secondClaims = await claimsOn(secondPage);
      expect(secondClaims.sid).toBe(claims.sid);
      expect(secondClaims.aud).toBe('second-app');

      expect(await backchannelSessions(firstURL)).not.toContain(claims.sid);
      await page.getByRole('button', { name: 'Log out' }).click();
      // Latchkey ended the session at once (the hint named it) and sent the browser back with the state.
      await page.waitForURL(`${firstURL}/?state=**`);
      expect(await text(page, 'h1')).toBe('Example App');
      expect(await text(page, '#logged-out')).toBe('You have been logged out.');
      await check(page, 'logged-out');

      // Both apps took part in the session: Latchkey tells each over the back channel, in the background.
      for (const appURL of [firstURL, secondURL]) {
        await waitFor(async () => (await backchannelSessions(appURL)).includes(claims.sid as string), {
          what: `${appURL} to list the back-channel logout of session ${String(claims.sid)}`,
        });
      }
      for (const [program, aud] of [
        [first, 'example-app'],
        [second, 'second-app'],
      ] as const) {
        const line = `example-app: back-channel logout: sid=${String(claims.sid)} sub=${String(claims.sub)}`;
        expect({
          aud,
          lines: program
            .stdout()
            .split('\n')
            .filter((l) => l.includes(String(claims.sid))),
        }).toEqual({ aud, lines: [line] });
        // Neither a token nor any other JWT in the apps' output.
        expect(program.stdout() + program.stderr()).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
      }
      await page.reload();
      expect(await page.locator('#backchannel-logouts li').first().innerText()).toContain(String(claims.sid));
      // The state was for one return only: the same URL again says nothing.
      expect(await page.locator('#logged-out').count()).toBe(0);
      await check(page, 'backchannel-list');

      // The session is over: both apps' next logins ask for the password, and get a new session.
      expect(await login(secondPage, secondURL, 'Second App')).toEqual({
        askedPassword: true,
        askedApproval: true,
      });
      expect(await login(page, firstURL, 'Example App')).toEqual({
        askedPassword: false,
        askedApproval: true,
      });
      const again = await claimsOn(page);
      expect(again.sid).not.toBe(claims.sid);

      // The second app logs out the same way, back to its own page.
      await secondPage.getByRole('button', { name: 'Log out' }).click();
      await secondPage.waitForURL(`${secondURL}/?state=**`);
      expect(await text(secondPage, '#logged-out')).toBe('You have been logged out.');
      await waitFor(async () => (await backchannelSessions(firstURL)).includes(again.sid as string), {
        what: 'the example app to hear of the second logout',
      });
      expectNoProblems(problems);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('refuses a Log out form posted without its CSRF token or from another browser, and ignores a forged state', async () => {
    const { context, problems } = await openBrowser();
    const other = await chromium.browser.newContext({ viewport: DESKTOP });
    try {
      const page = await context.newPage();
      expect(await login(page, firstURL, 'Example App')).toEqual({
        askedPassword: true,
        askedApproval: true,
      });
      const form = page.locator('form:has(#logout)');
      const idToken = (await form.locator('input[name=id_token]').getAttribute('value'))!;
      const csrfToken = (await form.locator('input[name=csrf_token]').getAttribute('value'))!;
      expect(idToken).toBe((await text(page, '#id-token')).trim());

      // This browser's cookies, a wrong token: refused, no redirect to the issuer.
      const wrong: Record<string, string>[] = [
        { id_token: idToken },
        { id_token: idToken, csrf_token: `${csrfToken.slice(1)}A` },
      ];
      for (const fields of wrong) {
        const res = await context.request.post(`${firstURL}/logout`, { form: fields, maxRedirects: 0 });
        expect([res.status(), res.headers().location]).toEqual([400, undefined]);
      }
      // The right fields from another browser (no cookie of this one): refused too.
      const elsewhere = await other.request.post(`${firstURL}/logout`, {
        form: { id_token: idToken, csrf_token: csrfToken },
        maxRedirects: 0,
      });
      expect(elsewhere.status()).toBe(400);

      // Nothing was logged out: the session still signs the user in without any page of Latchkey.
      expect(await login(page, firstURL, 'Example App')).toEqual({
        askedPassword: false,
        askedApproval: false,
      });

      // A state this browser's logout did not start is ignored: no message.
      await page.goto(`${firstURL}/?state=forged`);
      expect(await text(page, 'h1')).toBe('Example App');
      expect(await page.locator('#logged-out').count()).toBe(0);

      // The form's own post works.
      await login(page, firstURL, 'Example App');
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(`${firstURL}/?state=**`);
      expect(await text(page, '#logged-out')).toBe('You have been logged out.');
      expectNoProblems(problems);
    } finally {
      await other.close();
      await context.close();
    }
  }, 90_000);
});
