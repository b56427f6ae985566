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
// Screenshots: test-results/pages/<theme>-<desktop|phone>-<page>.png.

/** The web client's redirect URI, on a small HTTP server of this suite (the application). */
let WEB_REDIRECT = '';
const OOB = 'urn:ietf:wg:oauth:2.0:oob';
const HOSTILE = '<img src=x onerror=alert(1)>';
const ALICE = { email: 'alice@example.com', password: 'password' };
// bcrypt of "password" (examples/config-dev.yaml's).
const HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
/** --lk-bg of the built-in light and dark themes, as computed colours. */
const BACKGROUND = { light: 'rgb(244, 246, 248)', dark: 'rgb(13, 17, 23)' };
const CORP_BACKGROUND = 'rgb(253, 246, 227)';
const LOGIN_HELP = 'Forgotten your password? Call the help desk on 555-0100.';

/** A Latchkey config (appended to startInProcess's) with two login methods and three kinds of client. */
function pagesConfig(frontend: string, names: { client?: string; connector?: string } = {}): string {
  const yaml = (s: string) => JSON.stringify(s);
  return `
frontend:
${frontend}
oauth2:
  skipApprovalScreen: false
staticClients:
  - id: web-app
    secret: d2ViLWFwcC1zZWNyZXQ
    name: ${yaml(names.client ?? 'Web App')}
    logoURL: theme/logo.svg
    redirectURIs: [${WEB_REDIRECT}]
  - id: cli
    name: Command Line
    public: true
    redirectURIs: [http://localhost:8000]
connectors:
  - type: mockCallback
    id: mock
    name: ${yaml(names.connector ?? 'Example')}
enablePasswordDB: true
staticPasswords:
  - email: ${ALICE.email}
    hash: ${yaml(HASH)}
    username: alice
    userID: a11ce000-0000-4000-8000-000000000001
    groups: [devs]
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
    chromium = await launchChromium();
    const theme = (name: string) => `  theme: ${name}\n  issuer: Acme SSO`;
    light = await startInProcess(pagesConfig(theme('light')));
    dark = await startInProcess(pagesConfig(theme('dark')));
    auto = await startInProcess(pagesConfig(theme('auto')));
    hostile = await startInProcess(
      pagesConfig(`  issuer: ${JSON.stringify(HOSTILE)}`, { client: HOSTILE, connector: HOSTILE }),
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
    for (const s of [light, dark, auto, hostile, custom]) await s?.close();
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
          expect({ page: name, background: await bodyBackground(page) }).toEqual({
            page: name,
            background: BACKGROUND[theme],
          });
          expect({ page: name, violations: await seriousAxeViolations(page) }).toEqual({
            page: name,
            violations: [],
          });
          await page.screenshot({ path: join(shots, `${theme}-desktop-${name}.png`), fullPage: true });
          await page.setViewportSize(PHONE);
          expect({ page: name, fits: await fitsWidth(page) }).toEqual({ page: name, fits: true });
          await page.screenshot({ path: join(shots, `${theme}-phone-${name}.png`), fullPage: true });
          await page.setViewportSize(DESKTOP);
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
