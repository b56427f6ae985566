import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { BUILTIN_WEB_DIR } from '../../src/frontend/frontend.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';
import { portedDexPasswordPage } from './readme.js';
import {
  DESKTOP,
  PHONE,
  bodyBackground,
  colours,
  fitsWidth,
  focused,
  imageLoaded,
  launchChromium,
  screenshotDir,
  seriousAxeViolations,
  watchProblems,
  type Chromium,
  type PageProblems,
} from '../helpers/chromium.js';

// Every login page in headless Chromium (Debian's), served by a real Latchkey: each page reached through a
// real login, checked with axe-core, shown at desktop and phone width in the light and dark themes (and
// `auto` following prefers-color-scheme), completed with the keyboard alone, fed hostile names, and
// customised through frontend.dir. Every page must run without a CSP violation, a console error or a dialog.
// With browser sessions on (a second set of servers: a session changes the logins the first set walks
// through) the same for the password page's "Keep me signed in", `/` signed in and out, and both logout
// pages, plus the journeys through them: logging out with the keyboard, the session cookie's lifetime.
// Screenshots: test-results/pages/<theme>-<desktop|phone>-<page>.png.

/** The web client's redirect URI, on a small HTTP server of this suite (the application). */
let WEB_REDIRECT = '';
/** Where the application takes its users back after a logout (registered with sessions on). */
let WEB_LOGGED_OUT = '';
const OOB = 'urn:ietf:wg:oauth:2.0:oob';
const HOSTILE = '<img src=x onerror=alert(1)>';
/** The same, as an email address (staticPasswords wants one: no spaces, one @). */
const HOSTILE_EMAIL = '<img/src=x/onerror=alert(1)>@example.com';
const ALICE = { email: 'alice@example.com', password: 'password' };
// bcrypt of "password" (examples/config-dev.yaml's).
const HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
/** --lk-bg of the built-in light and dark themes, as computed colours. */
const BACKGROUND = { light: 'rgb(244, 246, 248)', dark: 'rgb(13, 17, 23)' };
const CORP_BACKGROUND = 'rgb(253, 246, 227)';
const LOGIN_HELP = 'Forgotten your password? Call the help desk on 555-0100.';
/** sessions.absoluteLifetime of the servers with sessions (not the default 24h, so a cookie shows it). */
const ABSOLUTE_LIFETIME = { text: '8h', seconds: 8 * 3600 };
const SESSION_COOKIE = 'latchkey_session';

interface PagesOptions {
  client?: string;
  connector?: string;
  /** The password user's username and email, and a group of theirs besides devs (default: alice). */
  user?: { username: string; email: string; group: string };
  /** Browser sessions on (`sessions:`), and web-app's post-logout redirect URI registered. */
  sessions?: boolean;
}

/** A Latchkey config (appended to startInProcess's) with two login methods and three kinds of client. */
function pagesConfig(frontend: string, opts: PagesOptions = {}): string {
  const yaml = (v: unknown) => JSON.stringify(v);
  const user = opts.user ?? { username: 'alice', email: ALICE.email };
  const groups = ['devs', ...(opts.user ? [opts.user.group] : [])];
  return `
frontend:
${frontend}
oauth2:
  skipApprovalScreen: false
${opts.sessions ? `sessions:\n  absoluteLifetime: ${ABSOLUTE_LIFETIME.text}` : ''}
staticClients:
  - id: web-app
    secret: d2ViLWFwcC1zZWNyZXQ
    name: ${yaml(opts.client ?? 'Web App')}
    logoURL: theme/logo.svg
    redirectURIs: [${WEB_REDIRECT}]
${opts.sessions ? `    postLogoutRedirectURIs: [${WEB_LOGGED_OUT}]` : ''}
  - id: cli
    name: Command Line
    public: true
    redirectURIs: [http://localhost:8000]
connectors:
  - type: mockCallback
    id: mock
    name: ${yaml(opts.connector ?? 'Example')}
enablePasswordDB: true
staticPasswords:
  - email: ${yaml(user.email)}
    hash: ${yaml(HASH)}
    username: ${yaml(user.username)}
    userID: a11ce000-0000-4000-8000-000000000001
    groups: ${yaml(groups)}
`;
}

/** An /auth URL with PKCE (S256) and a state. */
function authURL(server: InProcessServer, clientID: string, redirectURI: string): string {
  const verifier = randomBytes(32).toString('base64url');
  return `${server.issuer}/auth?${new URLSearchParams({
    client_id: clientID,
    redirect_uri: redirectURI,
    response_type: 'code',
    scope: 'openid email profile groups offline_access',
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })}`;
}

/** Starts a device login for `clientID` (as a device would) and returns the issuer's answer. */
async function startDevice(
  server: InProcessServer,
  client: { id: string; secret?: string },
): Promise<{ user_code: string; verification_uri: string; verification_uri_complete: string }> {
  const res = await fetch(`${server.issuer}/device/code`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(client.secret
        ? { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` }
        : {}),
    },
    body: new URLSearchParams({ ...(client.secret ? {} : { client_id: client.id }), scope: 'openid email' }),
  });
  if (res.status !== 200) throw new Error(`device/code: ${res.status} ${await res.text()}`);
  return (await res.json()) as {
    user_code: string;
    verification_uri: string;
    verification_uri_complete: string;
  };
}

const text = (page: Page, selector: string) => page.locator(selector).innerText();
const heading = (page: Page) => text(page, 'h1');

describe('the login pages in headless Chromium', () => {
  let chromium: Chromium;
  let light: InProcessServer;
  let dark: InProcessServer;
  let auto: InProcessServer;
  let hostile: InProcessServer;
  let custom: InProcessServer;
  /** Servers like light, dark, auto and hostile, with browser sessions on. */
  const sessions = {} as Record<'light' | 'dark' | 'auto' | 'hostile', InProcessServer>;
  let customDir: string;
  let shots: string;
  /** The web client's own server (its redirect URI). */
  let application: Server;

  beforeAll(async () => {
    shots = await screenshotDir('pages');
    // The web client: its callback shows a page, as an application would after a login.
    application = createServer((req, res) => {
      if (req.url === '/csp-probe') {
        // A page that breaks its own CSP, to show the watch catches what the login pages must not do.
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': "default-src 'self'",
        });
        res.end('<!doctype html><html lang="en"><title>Probe</title><script>alert(1)</script></html>');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html lang="en"><title>App</title><h1>Back at the application</h1></html>');
    });
    await new Promise<void>((resolve) => application.listen(0, '127.0.0.1', resolve));
    WEB_REDIRECT = `http://127.0.0.1:${(application.address() as AddressInfo).port}/callback`;
    WEB_LOGGED_OUT = WEB_REDIRECT.replace('/callback', '/logged-out');
    chromium = await launchChromium();
    const theme = (name: string) => `  theme: ${name}\n  issuer: Acme SSO`;
    light = await startInProcess(pagesConfig(theme('light')));
    dark = await startInProcess(pagesConfig(theme('dark')));
    auto = await startInProcess(pagesConfig(theme('auto')));
    const hostileFrontend = `  issuer: ${JSON.stringify(HOSTILE)}`;
    hostile = await startInProcess(pagesConfig(hostileFrontend, { client: HOSTILE, connector: HOSTILE }));
    sessions.light = await startInProcess(pagesConfig(theme('light'), { sessions: true }));
    sessions.dark = await startInProcess(pagesConfig(theme('dark'), { sessions: true }));
    sessions.auto = await startInProcess(pagesConfig(theme('auto'), { sessions: true }));
    sessions.hostile = await startInProcess(
      pagesConfig(hostileFrontend, {
        client: HOSTILE,
        connector: HOSTILE,
        user: { username: HOSTILE, email: HOSTILE_EMAIL, group: HOSTILE },
        sessions: true,
      }),
    );
    // The seed's customisation (§4), as the README's porting guide does it: Dex's password.html ported to
    // Latchkey (its inline script moved to static/password.js), a theme of its own, values in
    // frontend.extra. Only those files are in the folder; every other page comes built in.
    customDir = await mkdtemp(join(tmpdir(), 'latchkey-custom-web-'));
    const ported = await portedDexPasswordPage();
    await mkdir(join(customDir, 'templates'));
    await writeFile(join(customDir, 'templates/password.html'), ported.template);
    await mkdir(join(customDir, 'static'));
    await writeFile(join(customDir, 'static/password.js'), ported.script);
    await mkdir(join(customDir, 'themes/corp'), { recursive: true });
    await writeFile(join(customDir, 'themes/corp/styles.css'), await corpTheme());
    custom = await startInProcess(
      pagesConfig(
        [
          `  dir: ${customDir}`,
          '  theme: corp',
          '  issuer: Corp SSO',
          '  extra:',
          `    login_help: ${JSON.stringify(LOGIN_HELP)}`,
          '    tos_footer_link: "https://example.com/terms"',
        ].join('\n'),
      ),
    );
  }, 60_000);

  afterAll(async () => {
    for (const s of [light, dark, auto, hostile, custom, ...Object.values(sessions)]) await s?.close();
    await chromium?.stop();
    if (customDir) await rm(customDir, { recursive: true, force: true });
    if (application) await new Promise((resolve) => application.close(resolve));
  });

  /** A fresh browser (no cookies) whose problems are recorded. */
  async function openBrowser(
    opts: { colorScheme?: 'light' | 'dark' } = {},
  ): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
    const context = await chromium.browser.newContext({
      viewport: DESKTOP,
      ...(opts.colorScheme ? { colorScheme: opts.colorScheme } : {}),
    });
    const problems = await watchProblems(context);
    return { context, page: await context.newPage(), problems };
  }

  function expectNoProblems(problems: PageProblems): void {
    expect(problems).toEqual({ cspViolations: [], consoleErrors: [], failedResources: [], dialogs: [] });
  }

  /** Logs in with the password form from the chooser (the page must show the chooser). */
  async function passwordLogin(page: Page, user = ALICE): Promise<void> {
    await page.getByRole('link', { name: 'Log in with Email' }).click();
    await page.getByLabel('Email Address').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Log in' }).click();
  }

  /**
   * Reaches every page Latchkey renders, through real logins, calling `visit` on each: the connector
   * chooser, the password form (empty and after a wrong password), the approval page, the out-of-band
   * code, the device code entry (empty and after a wrong code), the device success page and the error page.
   */
  async function everyPage(
    server: InProcessServer,
    page: Page,
    visit: (name: string) => Promise<void>,
  ): Promise<void> {
    await page.goto(authURL(server, 'web-app', WEB_REDIRECT));
    expect(await heading(page)).toBe('Log in to Acme SSO');
    expect(await page.getByRole('link').allInnerTexts()).toEqual(
      expect.arrayContaining(['Log in with Email', 'Log in with Example']),
    );
    await visit('login');

    await page.getByRole('link', { name: 'Log in with Email' }).click();
    expect(await heading(page)).toBe('Log in to your account');
    await visit('password');

    await page.getByLabel('Email Address').fill(ALICE.email);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    expect(await page.getByRole('alert').innerText()).toBe('Invalid Email Address or password.');
    expect(await page.getByLabel('Email Address').inputValue()).toBe(ALICE.email);
    await visit('password-invalid');

    await page.getByLabel('Password').fill(ALICE.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    expect(await heading(page)).toBe('Grant access');
    expect(await text(page, '.dex-client')).toBe('Web App');
    expect(await page.locator('.dex-scopes li').allInnerTexts()).toEqual([
      'View your email address',
      'View basic profile information',
      'View your groups',
      'Have offline access',
    ]);
    // The client's own logo (its logoURL), loaded.
    expect(await imageLoaded(page, 'img.theme-client-logo')).toBe(true);
    await visit('approval');

    await page.getByRole('button', { name: 'Grant access' }).click();
    await page.waitForURL(`${WEB_REDIRECT}?**`);
    expect(new URL(page.url()).searchParams.get('code')).toMatch(/.+/);

    await page.goto(authURL(server, 'cli', OOB));
    await passwordLogin(page);
    await page.getByRole('button', { name: 'Grant access' }).click();
    expect(await heading(page)).toBe('Login successful');
    expect(await page.getByLabel('Code').inputValue()).toMatch(/.{16,}/);
    await visit('oob');

    const device = await startDevice(server, { id: 'cli' });
    await page.goto(device.verification_uri);
    expect(await heading(page)).toBe('Enter the code shown on your device');
    await visit('device');

    await page.getByLabel('Code').fill('BCDF-GHJK');
    await page.getByRole('button', { name: 'Continue' }).click();
    expect(await page.getByRole('alert').innerText()).toBe('The code is invalid or has expired.');
    await visit('device-invalid');

    await page.getByLabel('Code').fill(device.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await passwordLogin(page);
    await page.getByRole('button', { name: 'Grant access' }).click();
    expect(await heading(page)).toBe('Login successful for Command Line');
    expect(await text(page, 'main')).toContain('Return to your device to continue.');
    await visit('device-success');

    await page.goto(`${server.issuer}/auth?client_id=no-such-app`);
    expect(await heading(page)).toBe('Bad Request');
    expect(await text(page, '.dex-error-box')).toBe('Unknown client "no-such-app".');
    await visit('error');
  }

  /**
   * The checks every page gets: the theme's background, no serious axe violation, fitting a phone's width;
   * captured at desktop and phone width as test-results/pages/<theme>-<desktop|phone>-<name>.png.
   */
  async function inspect(page: Page, name: string, theme: string, background: string): Promise<void> {
    expect({ page: name, background: await bodyBackground(page) }).toEqual({ page: name, background });
    expect({ page: name, violations: await seriousAxeViolations(page) }).toEqual({
      page: name,
      violations: [],
    });
    await page.screenshot({ path: join(shots, `${theme}-desktop-${name}.png`), fullPage: true });
    await page.setViewportSize(PHONE);
    expect({ page: name, fits: await fitsWidth(page) }).toEqual({ page: name, fits: true });
    await page.screenshot({ path: join(shots, `${theme}-phone-${name}.png`), fullPage: true });
    await page.setViewportSize(DESKTOP);
  }

  /** A password login to web-app through the chooser and the approval page, back at the application. */
  async function signIn(server: InProcessServer, page: Page, user = ALICE): Promise<void> {
    await page.goto(authURL(server, 'web-app', WEB_REDIRECT));
    await passwordLogin(page, user);
    await page.getByRole('button', { name: 'Grant access' }).click();
    await page.waitForURL(`${WEB_REDIRECT}?**`);
  }

  /** The browser's session cookie for `server`, if it has one. */
  async function sessionCookie(context: BrowserContext, server: InProcessServer) {
    return (await context.cookies(server.issuer)).find((c) => c.name === SESSION_COOKIE);
  }

  /**
   * Reaches every page a server with sessions adds, through a real login, calling `visit` on each: `/`
   * signed out, the password form with "Keep me signed in", `/` signed in, the logout confirmation (a
   * GET /logout with a client_id and no hint) and the logged-out page.
   */
  async function everySessionPage(
    server: InProcessServer,
    page: Page,
    visit: (name: string) => Promise<void>,
  ): Promise<void> {
    await page.goto(`${server.issuer}/`);
    expect(await heading(page)).toBe('Acme SSO');
    expect(await text(page, 'main')).toContain('You are not signed in.');
    expect(await page.title()).toBe('Account · Acme SSO');
    await visit('home-signed-out');

    await page.goto(authURL(server, 'web-app', WEB_REDIRECT));
    await page.getByRole('link', { name: 'Log in with Email' }).click();
    expect(await heading(page)).toBe('Log in to your account');
    const remember = page.getByLabel('Keep me signed in');
    // sessions.rememberMeCheckedByDefault is true unless configured otherwise.
    expect(await remember.isChecked()).toBe(true);
    await visit('password-remember-me');

    await page.getByLabel('Email Address').fill(ALICE.email);
    await page.getByLabel('Password').fill(ALICE.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Grant access' }).click();
    await page.waitForURL(`${WEB_REDIRECT}?**`);

    await page.goto(`${server.issuer}/`);
    expect(await heading(page)).toBe('Signed in');
    expect(await text(page, '#signed-in-user')).toBe('alice');
    expect(await text(page, '#signed-in-email')).toBe(ALICE.email);
    expect(await text(page, 'main')).toContain('through Email.');
    expect(await text(page, 'main')).toContain('Groups: devs');
    await visit('home');

    await page.goto(`${server.issuer}/logout?${new URLSearchParams({ client_id: 'web-app' })}`);
    expect(await heading(page)).toBe('Log out?');
    expect(await text(page, '.dex-client')).toBe('Web App');
    expect(await text(page, 'main')).toContain(`You are logged in as ${ALICE.email}.`);
    await visit('logout-confirm');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'You are logged out' }).waitFor();
    await visit('logged-out');
  }

  it('the watch on every page catches a CSP violation (a page with an inline script, here no dialog)', async () => {
    const { context, page, problems } = await openBrowser();
    try {
      await page.goto(WEB_REDIRECT.replace('/callback', '/csp-probe'));
      expect(await page.title()).toBe('Probe');
      expect(problems.cspViolations).toEqual(
        expect.arrayContaining([expect.stringMatching(/^script-src-elem blocked inline on /)]),
      );
      expect(problems.dialogs).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it.each(['light', 'dark'] as const)(
    'the %s theme: every page passes axe, fits a phone, shows the theme, and is captured',
    async (theme) => {
      const { context, page, problems } = await openBrowser();
      const visited: string[] = [];
      try {
        await everyPage(theme === 'light' ? light : dark, page, async (name) => {
          visited.push(name);
          await inspect(page, name, theme, BACKGROUND[theme]);
        });
        expect(visited).toEqual([
          'login',
          'password',
          'password-invalid',
          'approval',
          'oob',
          'device',
          'device-invalid',
          'device-success',
          'error',
        ]);
        expectNoProblems(problems);
      } finally {
        await context.close();
      }
    },
    120_000,
  );

  it('frontend.theme auto follows prefers-color-scheme: the light palette, then the dark one', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const { context, page, problems } = await openBrowser({ colorScheme: scheme });
      try {
        await page.goto(authURL(auto, 'web-app', WEB_REDIRECT));
        expect(await heading(page)).toBe('Log in to Acme SSO');
        expect(await bodyBackground(page)).toBe(BACKGROUND[scheme]);
        // The same palette as the fixed theme, down to the panels and buttons.
        const colours = await palette(page);
        const fixed = await openBrowser();
        await fixed.page.goto(authURL(scheme === 'light' ? light : dark, 'web-app', WEB_REDIRECT));
        expect(colours).toEqual(await palette(fixed.page));
        await fixed.context.close();
        expect(await seriousAxeViolations(page)).toEqual([]);
        await page.screenshot({ path: join(shots, `auto-${scheme}-login.png`), fullPage: true });
        expectNoProblems(problems);
      } finally {
        await context.close();
      }
    }
  });

  it('completes a login with the keyboard alone (Tab and Enter), focus always visible', async () => {
    const { context, page, problems } = await openBrowser();
    try {
      await page.goto(authURL(light, 'web-app', WEB_REDIRECT));
      // The first Tab reaches the skip link, then the login methods in order.
      const stops = [];
      for (let i = 0; i < 3; i++) {
        await page.keyboard.press('Tab');
        stops.push(await focused(page));
      }
      expect(stops.map((s) => s.text)).toEqual([
        'Skip to main content',
        'Log in with Email',
        'Log in with Example',
      ]);
      for (const s of stops) expect(s.outline).not.toBe('none');
      await page.keyboard.press('Shift+Tab');
      expect((await focused(page)).text).toBe('Log in with Email');
      await page.keyboard.press('Enter');

      await page.getByLabel('Email Address').waitFor();
      // The username field has the focus when the page opens (autofocus).
      expect((await focused(page)).id).toBe('login');
      await page.keyboard.type(ALICE.email);
      await page.keyboard.press('Tab');
      expect((await focused(page)).id).toBe('password');
      await page.keyboard.type(ALICE.password);
      await page.keyboard.press('Enter');

      await page.getByRole('button', { name: 'Grant access' }).waitFor();
      const grant = await tabTo(page, 'Grant access');
      expect(grant.outline).not.toBe('none');
      await page.keyboard.press('Enter');
      await page.waitForURL(`${WEB_REDIRECT}?**`);
      expect(await heading(page)).toBe('Back at the application');
      expect(new URL(page.url()).searchParams.get('code')).toMatch(/.+/);

      // The device page too: the code field has the focus, Enter submits.
      const device = await startDevice(light, { id: 'cli' });
      await page.goto(device.verification_uri);
      expect((await focused(page)).id).toBe('user_code');
      await page.keyboard.type(device.user_code);
      await page.keyboard.press('Enter');
      // Enter starts a navigation: read the heading of the page it lands on, not of the one it leaves.
      await page.waitForURL((url) => !url.pathname.endsWith('/device'));
      expect(await heading(page)).toBe('Log in to Acme SSO');
      expectNoProblems(problems);
    } finally {
      await context.close();
    }
  });

  it(`renders a client name, connector name and error text of ${HOSTILE} as text: no element, no dialog`, async () => {
    const { context, page, problems } = await openBrowser();
    const noInjectedImage = async () => expect(await page.locator('img[src="x"]').count()).toBe(0);
    try {
      await page.goto(authURL(hostile, 'web-app', WEB_REDIRECT));
      expect(await heading(page)).toBe(`Log in to ${HOSTILE}`);
      expect(await page.getByRole('link').allInnerTexts()).toContain(`Log in with ${HOSTILE}`);
      expect(await page.title()).toBe(`Log in to ${HOSTILE}`);
      await noInjectedImage();

      // The mock connector logs in at once; the approval page names the client.
      await page.getByRole('link', { name: `Log in with ${HOSTILE}` }).click();
      expect(await heading(page)).toBe('Grant access');
      expect(await text(page, '.dex-client')).toBe(HOSTILE);
      await noInjectedImage();
      await page.getByRole('button', { name: 'Grant access' }).click();
      await page.waitForURL(`${WEB_REDIRECT}?**`);

      // An error message quoting the request.
      await page.goto(`${hostile.issuer}/auth?${new URLSearchParams({ client_id: HOSTILE })}`);
      expect(await text(page, '.dex-error-box')).toBe(`Unknown client "${HOSTILE}".`);
      await noInjectedImage();

      // The device success page names the client too.
      const device = await startDevice(hostile, { id: 'web-app', secret: 'd2ViLWFwcC1zZWNyZXQ' });
      await page.goto(device.verification_uri_complete);
      expect(await page.getByLabel('Code').inputValue()).toBe(device.user_code);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('link', { name: `Log in with ${HOSTILE}` }).click();
      await page.getByRole('button', { name: 'Grant access' }).click();
      expect(await heading(page)).toBe(`Login successful for ${HOSTILE}`);
      await noInjectedImage();
      await page.screenshot({ path: join(shots, 'hostile-device-success.png'), fullPage: true });
      expectNoProblems(problems);
    } finally {
      await context.close();
    }
  });

  it("frontend.dir with only password.html changed (the README's port of Dex's): that page customised, the rest built in, extra values and the custom theme shown", async () => {
    const { context, page, problems } = await openBrowser();
    try {
      await page.goto(authURL(custom, 'web-app', WEB_REDIRECT));
      // The built-in chooser, with frontend.issuer, the theme's colours and the footer link from extra.
      expect(await heading(page)).toBe('Log in to Corp SSO');
      expect(await bodyBackground(page)).toBe(CORP_BACKGROUND);
      const terms = page.getByRole('link', { name: 'Terms of service' });
      expect(await terms.getAttribute('href')).toBe('https://example.com/terms');
      // The corp theme has no logo of its own: the default theme's is served.
      expect(await imageLoaded(page, 'img.theme-navbar__logo')).toBe(true);
      await page.screenshot({ path: join(shots, 'custom-desktop-login.png'), fullPage: true });

      await page.getByRole('link', { name: 'Log in with Email' }).click();
      expect(await text(page, '.theme-heading')).toBe('Log in to Your Account');
      expect(await text(page, 'main p.dex-subtle-text')).toBe(LOGIN_HELP);
      expect(await page.getByLabel('Email Address').getAttribute('placeholder')).toBe('email address');
      expect(await bodyBackground(page)).toBe(CORP_BACKGROUND);
      expect(await seriousAxeViolations(page)).toEqual([]);
      await page.screenshot({ path: join(shots, 'custom-desktop-password.png'), fullPage: true });

      // static/password.js runs (a file, so the CSP allows it): submitting disables the button. (This
      // first submission is held back to look at the button.)
      await page.evaluate(
        "document.querySelector('form').addEventListener('submit', (e) => e.preventDefault())",
      );
      await page.getByLabel('Email Address').fill(ALICE.email);
      await page.getByLabel('Password').fill('wrong password');
      await page.getByRole('button', { name: 'Login' }).click();
      expect(await page.locator('#submit-login').isDisabled()).toBe(true);

      // The ported form logs in: a wrong password shows its error, the right one leads to the built-in
      // approval page.
      await page.reload();
      await page.getByLabel('Email Address').fill(ALICE.email);
      await page.getByLabel('Password').fill('wrong password');
      await page.getByRole('button', { name: 'Login' }).click();
      expect(await text(page, '#login-error')).toBe('Invalid Email Address and password.');
      expect(await page.getByLabel('Email Address').inputValue()).toBe(ALICE.email);
      await page.getByLabel('Password').fill(ALICE.password);
      await page.getByRole('button', { name: 'Login' }).click();
      expect(await heading(page)).toBe('Grant access');
      expect(await page.getByRole('link', { name: 'Terms of service' }).count()).toBe(1);
      expectNoProblems(problems);
    } finally {
      await context.close();
    }
  });

  it.each(['light', 'dark', 'auto'] as const)(
    'the %s theme with sessions: the password page with "Keep me signed in", / signed out and in, the logout confirmation and the logged-out page pass axe, fit a phone, show the theme, and are captured',
    async (theme) => {
      // auto is shown to a browser that prefers dark: the light palette is what it has without a preference.
      const scheme = theme === 'auto' ? 'dark' : theme;
      const { context, page, problems } = await openBrowser({ colorScheme: scheme });
      const visited: string[] = [];
      try {
        await everySessionPage(sessions[theme], page, async (name) => {
          visited.push(name);
          await inspect(page, name, theme, BACKGROUND[scheme]);
        });
        expect(visited).toEqual([
          'home-signed-out',
          'password-remember-me',
          'home',
          'logout-confirm',
          'logged-out',
        ]);
        expect(await sessionCookie(context, sessions[theme])).toBeUndefined();
        expectNoProblems(problems);
      } finally {
        await context.close();
      }
    },
    120_000,
  );

  it('signs in with the keyboard alone ("Keep me signed in" on the way), shows the user at /, logs out with the keyboard, and / then shows nobody', async () => {
    const server = sessions.light;
    const { context, page, problems } = await openBrowser();
    try {
      await page.goto(authURL(server, 'web-app', WEB_REDIRECT));
      await tabTo(page, 'Log in with Email');
      await page.keyboard.press('Enter');
      await page.getByLabel('Email Address').waitFor();
      expect((await focused(page)).id).toBe('login');
      await page.keyboard.type(ALICE.email);
      await page.keyboard.press('Tab');
      expect((await focused(page)).id).toBe('password');
      await page.keyboard.type(ALICE.password);
      // The box comes after the password, its focus shown; Space toggles it.
      await page.keyboard.press('Tab');
      const box = await focused(page);
      expect(box.id).toBe('remember_me');
      expect(box.outline).not.toBe('none');
      const remember = page.getByLabel('Keep me signed in');
      expect(await remember.isChecked()).toBe(true);
      await page.keyboard.press('Space');
      expect(await remember.isChecked()).toBe(false);
      await page.keyboard.press('Space');
      expect(await remember.isChecked()).toBe(true);
      await page.keyboard.press('Tab');
      expect((await focused(page)).id).toBe('submit-login');
      await page.keyboard.press('Enter');

      await page.getByRole('button', { name: 'Grant access' }).waitFor();
      await tabTo(page, 'Grant access');
      await page.keyboard.press('Enter');
      await page.waitForURL(`${WEB_REDIRECT}?**`);

      await page.goto(`${server.issuer}/`);
      expect(await text(page, '#signed-in-user')).toBe('alice');
      const logout = await tabTo(page, 'Log out');
      expect(logout.outline).not.toBe('none');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'You are logged out' }).waitFor();
      expect(await sessionCookie(context, server)).toBeUndefined();

      await page.goto(`${server.issuer}/`);
      expect(await text(page, 'main')).toContain('You are not signed in.');
      expect(await page.getByRole('button', { name: 'Log out' }).count()).toBe(0);
      expectNoProblems(problems);
    } finally {
      await context.close();
    }
  });

  it.each([
    ['unchecked', 'ends with the browser (no Expires)', false],
    ['checked', 'expires sessions.absoluteLifetime from now', true],
  ] as const)(
    '"Keep me signed in" %s: the session cookie is HttpOnly, SameSite=Lax, on the issuer\'s path, and %s',
    async (_state, _lifetime, remember) => {
      const server = sessions.light;
      const { context, page, problems } = await openBrowser();
      try {
        await page.goto(authURL(server, 'web-app', WEB_REDIRECT));
        await page.getByRole('link', { name: 'Log in with Email' }).click();
        await page.getByLabel('Email Address').fill(ALICE.email);
        await page.getByLabel('Password').fill(ALICE.password);
        await page.getByLabel('Keep me signed in').setChecked(remember);
        const before = Date.now();
        await page.getByRole('button', { name: 'Log in' }).click();
        await page.getByRole('button', { name: 'Grant access' }).click();
        await page.waitForURL(`${WEB_REDIRECT}?**`);
        const after = Date.now();

        const cookie = await sessionCookie(context, server);
        expect(cookie).toMatchObject({
          httpOnly: true,
          sameSite: 'Lax',
          secure: false, // plain HTTP here; Secure over HTTPS
          domain: '127.0.0.1',
          path: new URL(server.issuer).pathname,
        });
        if (remember) {
          expect(cookie!.expires).toBeGreaterThanOrEqual(before / 1000 + ABSOLUTE_LIFETIME.seconds - 1);
          expect(cookie!.expires).toBeLessThanOrEqual(after / 1000 + ABSOLUTE_LIFETIME.seconds + 1);
        } else {
          expect(cookie!.expires).toBe(-1);
        }
        // It is the session: / shows the user.
        await page.goto(`${server.issuer}/`);
        expect(await text(page, '#signed-in-user')).toBe('alice');
        expectNoProblems(problems);
      } finally {
        await context.close();
      }
    },
  );

  it('GET /logout without a hint asks first; confirming with the keyboard logs out, back to a registered post_logout_redirect_uri with its state when one was given', async () => {
    const server = sessions.light;
    const { context, page, problems } = await openBrowser();
    try {
      await signIn(server, page);
      await page.goto(`${server.issuer}/logout`);
      expect(await heading(page)).toBe('Log out?');
      expect(await text(page, 'main')).toContain(`You are logged in as ${ALICE.email}.`);
      expect(await page.locator('.dex-client').count()).toBe(0);
      // Asking ended nothing.
      expect(await sessionCookie(context, server)).toBeDefined();
      // The skip link, then the button.
      await page.keyboard.press('Tab');
      expect((await focused(page)).text).toBe('Skip to main content');
      await page.keyboard.press('Tab');
      const confirm = await focused(page);
      expect(confirm).toMatchObject({ text: 'Log out', id: 'confirm-logout' });
      expect(confirm.outline).not.toBe('none');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'You are logged out' }).waitFor();
      expect(await sessionCookie(context, server)).toBeUndefined();
      await page.goto(`${server.issuer}/`);
      expect(await text(page, 'main')).toContain('You are not signed in.');

      // An application's logout link: the confirmation names it, and the form carries its redirect and state.
      await signIn(server, page);
      await page.goto(
        `${server.issuer}/logout?${new URLSearchParams({
          client_id: 'web-app',
          post_logout_redirect_uri: WEB_LOGGED_OUT,
          state: 'back-state',
        })}`,
      );
      expect(await text(page, '.dex-client')).toBe('Web App');
      await tabTo(page, 'Log out');
      await page.keyboard.press('Enter');
      await page.waitForURL(`${WEB_LOGGED_OUT}?**`);
      expect(new URL(page.url()).searchParams.get('state')).toBe('back-state');
      expect(await heading(page)).toBe('Back at the application');
      expect(await sessionCookie(context, server)).toBeUndefined();
      expectNoProblems(problems);
    } finally {
      await context.close();
    }
  });

  it(`renders user, email, group, client, connector and issuer names of ${HOSTILE} on / and the logout pages as text: no element, no dialog`, async () => {
    const server = sessions.hostile;
    const { context, page, problems } = await openBrowser();
    const noInjectedImage = async () => expect(await page.locator('img[src="x"]').count()).toBe(0);
    /** Long names wrap: the page still fits a phone. Captured as hostile-phone-<name>.png. */
    const fitsPhone = async (name: string) => {
      await page.setViewportSize(PHONE);
      expect({ page: name, fits: await fitsWidth(page) }).toEqual({ page: name, fits: true });
      await page.screenshot({ path: join(shots, `hostile-phone-${name}.png`), fullPage: true });
      await page.setViewportSize(DESKTOP);
    };
    try {
      await page.goto(`${server.issuer}/`);
      expect(await heading(page)).toBe(HOSTILE);
      expect(await page.title()).toBe(`Account · ${HOSTILE}`);
      await noInjectedImage();

      await signIn(server, page, { email: HOSTILE_EMAIL, password: ALICE.password });
      await page.goto(`${server.issuer}/`);
      expect(await text(page, '#signed-in-user')).toBe(HOSTILE);
      expect(await text(page, '#signed-in-email')).toBe(HOSTILE_EMAIL);
      expect(await text(page, 'main')).toContain(`Groups: devs, ${HOSTILE}`);
      await noInjectedImage();
      await fitsPhone('home');

      await page.goto(`${server.issuer}/logout?${new URLSearchParams({ client_id: 'web-app' })}`);
      expect(await text(page, '.dex-client')).toBe(HOSTILE);
      expect(await text(page, 'main')).toContain(`You are logged in as ${HOSTILE_EMAIL}.`);
      await noInjectedImage();
      await fitsPhone('logout-confirm');
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('heading', { name: 'You are logged out' }).waitFor();
      expect(await page.title()).toBe(`Log out · ${HOSTILE}`);
      await noInjectedImage();

      // Through the connector named HOSTILE (the mock one, which signs in Kilgore Trout at once).
      await page.goto(authURL(server, 'web-app', WEB_REDIRECT));
      await page.getByRole('link', { name: `Log in with ${HOSTILE}` }).click();
      await page.getByRole('button', { name: 'Grant access' }).click();
      await page.waitForURL(`${WEB_REDIRECT}?**`);
      await page.goto(`${server.issuer}/`);
      expect(await text(page, '#signed-in-user')).toBe('Kilgore Trout');
      expect(await text(page, 'main')).toContain(`through ${HOSTILE}.`);
      await noInjectedImage();
      expectNoProblems(problems);
    } finally {
      await context.close();
    }
  });
});

/** A theme of its own: the light theme's styles.css with another background. */
async function corpTheme(): Promise<string> {
  const light = await readFile(join(BUILTIN_WEB_DIR, 'themes/light/styles.css'), 'utf8');
  const corp = light.replace('--lk-bg: #f4f6f8;', '--lk-bg: #fdf6e3;');
  expect(corp).not.toBe(light);
  return corp;
}

/** The computed colours of the page's main surfaces. */
function palette(page: Page): Promise<Record<string, string>> {
  return colours(page, {
    body: ['body', 'backgroundColor'],
    text: ['body', 'color'],
    panel: ['.theme-panel', 'backgroundColor'],
    border: ['.theme-panel', 'borderTopColor'],
    button: ['.theme-btn-provider', 'backgroundColor'],
    buttonText: ['.theme-btn-provider', 'color'],
  });
}

/** Presses Tab until the element with this text has the focus (at most 20 times). */
async function tabTo(page: Page, label: string): Promise<{ text: string; id: string; outline: string }> {
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f.text === label) return f;
  }
  throw new Error(`Tab never reached "${label}"`);
}
