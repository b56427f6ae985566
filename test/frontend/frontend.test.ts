import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FrontendConfig } from '../../src/config/types.js';
import { BUILTIN_WEB_DIR, Frontend, TEMPLATE_NAMES, type TemplateName } from '../../src/frontend/frontend.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const ISSUER = 'http://127.0.0.1:5556/dex';

const config = (over: Partial<FrontendConfig> = {}): FrontendConfig => ({
  theme: 'light',
  issuer: 'Acme SSO',
  logoURL: 'theme/logo.png',
  extra: {},
  ...over,
});

const XSS = '<script>alert(1)</script>';

/** Sample data for every page, with Dex's field names. */
const samples: Record<TemplateName, Record<string, unknown>> = {
  'login.html': {
    ReqPath: '/dex/auth',
    Connectors: [
      { ID: 'ldap', Name: 'Corporate LDAP', Type: 'ldap', URL: '/dex/auth/ldap?state=s1' },
      { ID: 'github', Name: 'GitHub', Type: 'github', URL: '/dex/auth/github?state=s1' },
    ],
  },
  'password.html': {
    ReqPath: '/dex/auth/local',
    PostURL: '/dex/auth/local/login?state=s1',
    BackLink: '/dex/auth?state=s1',
    Username: 'alice@example.com',
    UsernamePrompt: 'Email Address',
    Invalid: false,
    Throttled: false,
    CSRFToken: 'csrf-123',
  },
  'approval.html': {
    ReqPath: '/dex/approval',
    PostURL: '/dex/approval',
    User: 'alice@example.com',
    Client: 'Example App',
    AuthReqID: 'req-42',
    Scopes: ['View basic profile information', 'View your email address'],
    CSRFToken: 'csrf-456',
  },
  'oob.html': { ReqPath: '/dex/approval', Code: 'code-789xyz' },
  'error.html': { ReqPath: '/dex/auth', ErrType: 'Bad Request', ErrMsg: 'Unregistered redirect_uri.' },
  'device.html': {
    ReqPath: '/dex/device',
    PostURL: '/dex/device/auth/verify_code',
    UserCode: 'ABCD-EFGH',
    Invalid: false,
    CSRFToken: 'csrf-dev',
  },
  'device_success.html': { ReqPath: '/dex/device/callback', ClientName: 'kubectl' },
  'logout.html': {
    ReqPath: '/dex/logout',
    Confirm: true,
    LoggedOut: false,
    User: 'alice@example.com',
    Client: 'Example App',
    PostURL: '/dex/logout',
    CSRFToken: 'csrf-logout',
    ClientID: 'example-app',
    PostLogoutRedirectURI: 'https://app.example.com/',
    State: 'st-1',
  },
  'home.html': {
    ReqPath: '/dex/',
    SignedIn: true,
    User: 'alice',
    Email: 'alice@example.com',
    Groups: ['devs'],
    Connector: 'Email',
    AuthTime: '2026-12-05T12:00:00.000Z',
    PostURL: '/dex/logout',
    CSRFToken: 'csrf-home',
  },
};

/** The attributes of the first tag matching `selector` (a regexp source for the tag start). */
function tag(html: string, start: RegExp): string {
  const m = html.match(start);
  if (!m || m.index === undefined) throw new Error(`no tag matching ${start} in:\n${html}`);
  return html.slice(m.index, html.indexOf('>', m.index) + 1);
}
const hiddenField = (html: string, name: string): string | undefined =>
  html.match(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)" />`))?.[1];

describe('built-in templates', () => {
  let fe: Frontend;
  beforeAll(async () => {
    fe = await Frontend.load(config(), ISSUER);
  });

  it('loads without warnings from the built-in web/ directory', () => {
    expect(fe.warnings).toEqual([]);
    expect(fe.theme).toBe('light');
    expect(fe.staticDir).toBe(join(BUILTIN_WEB_DIR, 'static'));
    expect(fe.themeDir).toBe(join(BUILTIN_WEB_DIR, 'themes', 'light'));
  });

  it.each(TEMPLATE_NAMES)('%s is a complete page with the shared header and assets', async (name) => {
    const html = await fe.render(name, samples[name]);
    expect(html).toMatch(/^<!doctype html>\s*<html lang="en">/);
    expect(html).toContain('<main id="main"');
    expect(html).toContain('<meta name="viewport"');
    expect(html).toContain('<link rel="stylesheet" href="/dex/static/main.css" />');
    expect(html).toContain('<link rel="stylesheet" href="/dex/theme/styles.css" />');
    expect(html).toContain('href="/dex/theme/favicon.png"');
    expect(tag(html, /<img class="theme-navbar__logo"/)).toContain('src="/dex/theme/logo.png"');
    expect(tag(html, /<img class="theme-navbar__logo"/)).toContain('alt="Acme SSO"');
    expect(html).toMatch(/<\/html>\s*$/);
    // Every visible input has a label pointing at it.
    for (const input of html.match(/<input\b[^>]*>/g) ?? []) {
      if (input.includes('type="hidden"')) continue;
      const id = input.match(/\bid="([^"]+)"/)?.[1];
      expect(id).toBeDefined();
      expect(html).toContain(`<label class="theme-form-label" for="${id}">`);
    }
  });

  it('login.html: one link per connector with a type style hook, titled "Log in to <issuer>"', async () => {
    const html = await fe.render('login.html', samples['login.html']);
    expect(html).toMatch(/<title>\s*Log in to Acme SSO\s*<\/title>/);
    expect(html).toContain('Log in to Acme SSO</h1>');
    const links = html.match(/<a class="dex-btn theme-btn-provider"[^>]*>/g) ?? [];
    expect(links).toEqual([
      '<a class="dex-btn theme-btn-provider" href="/dex/auth/ldap?state=s1" id="connector-ldap">',
      '<a class="dex-btn theme-btn-provider" href="/dex/auth/github?state=s1" id="connector-github">',
    ]);
    expect(html).toContain('dex-btn-icon--ldap');
    expect(html).toContain('dex-btn-icon--github');
    expect(html).toContain('Log in with Corporate LDAP');
    expect(html).not.toContain('No login methods');

    const none = await fe.render('login.html', { Connectors: [] });
    expect(none).toContain('No login methods are configured.');
  });

  it('login.html: an "&" in a connector URL is escaped in the attribute', async () => {
    const html = await fe.render('login.html', {
      Connectors: [{ ID: 'x', Name: 'X', Type: 'oidc', URL: '/dex/auth/x?a=1&b="2"' }],
    });
    expect(html).toContain('href="/dex/auth/x?a=1&amp;b=&#34;2&#34;"');
  });

  it('password.html: POST form with csrf_token, login and password fields and their autocomplete', async () => {
    const html = await fe.render('password.html', samples['password.html']);
    expect(tag(html, /<form /)).toBe(
      '<form class="dex-form" method="post" action="/dex/auth/local/login?state=s1">',
    );
    expect(hiddenField(html, 'csrf_token')).toBe('csrf-123');
    const login = tag(html, /<input\s+class="theme-form-input"\s+type="text"/);
    expect(login).toContain('name="login"');
    expect(login).toContain('autocomplete="username"');
    expect(login).toContain('value="alice@example.com"');
    const password = tag(html, /<input\s+class="theme-form-input"\s+type="password"/);
    expect(password).toContain('name="password"');
    expect(password).toContain('autocomplete="current-password"');
    expect(password).not.toContain('value=');
    expect(html).toContain('<label class="theme-form-label" for="login">Email Address</label>');
    expect(html).toContain('href="/dex/auth?state=s1"');
    expect(html).not.toContain('role="alert"');
  });

  it('password.html: Invalid shows an error; without BackLink there is no back link', async () => {
    const html = await fe.render('password.html', {
      ...samples['password.html'],
      Invalid: true,
      BackLink: '',
    });
    expect(html).toContain('Invalid Email Address or password.');
    expect(html).toContain('aria-invalid="true"');
    expect(html).not.toContain('theme-link-back');
  });

  it('password.html: Throttled says "too many attempts" the same way whether or not the account exists', async () => {
    const page = (user: string, invalid: boolean) =>
      fe.render('password.html', {
        ...samples['password.html'],
        Username: user,
        Throttled: true,
        Invalid: invalid,
      });
    const known = await page('alice@example.com', false);
    expect(known).toContain('Too many attempts. Try again later.');
    expect(known).not.toContain('Invalid Email Address');
    const unknown = await page('nobody@example.com', true);
    expect(unknown.replaceAll('nobody@example.com', 'alice@example.com')).toBe(known);
  });

  it('approval.html: escapes a hostile client name and posts req, csrf_token and approve/rejected', async () => {
    const html = await fe.render('approval.html', { ...samples['approval.html'], Client: XSS });
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(tag(html, /<form /)).toContain('method="post" action="/dex/approval"');
    expect(hiddenField(html, 'req')).toBe('req-42');
    expect(hiddenField(html, 'csrf_token')).toBe('csrf-456');
    expect(html).toMatch(/<button[^>]*type="submit" name="approval" value="approve">/);
    expect(html).toMatch(/<button[^>]*type="submit" name="approval" value="rejected">/);
    expect(html).toContain('<li>View basic profile information</li>');
    expect(html).toContain('<li>View your email address</li>');
    expect(html).toContain('alice@example.com');
    expect(html).not.toContain('theme-client-logo');
  });

  it('approval.html: a client logo resolves like an asset; a javascript: logo never reaches src', async () => {
    const logo = await fe.render('approval.html', {
      ...samples['approval.html'],
      ClientLogoURL: 'theme/client.png',
    });
    expect(tag(logo, /<img class="theme-client-logo"/)).toContain('src="/dex/theme/client.png"');
    const hostile = await fe.render('approval.html', {
      ...samples['approval.html'],
      ClientLogoURL: 'javascript:alert(1)',
    });
    expect(hostile).not.toContain('javascript:');
  });

  it('approval.html: hostile scope descriptions and user names are escaped too', async () => {
    const html = await fe.render('approval.html', {
      ...samples['approval.html'],
      Scopes: ['<img src=x onerror=alert(1)>'],
      User: '"><b>x</b>',
    });
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<b>x</b>');
    expect(html).toContain('<li>&lt;img src=x onerror=alert(1)&gt;</li>');
    expect(html).toContain('&#34;&gt;&lt;b&gt;x&lt;/b&gt;');
  });

  it('oob.html: shows the code in a read-only, labelled input', async () => {
    const html = await fe.render('oob.html', samples['oob.html']);
    const input = tag(html, /<input\s+class="theme-form-input theme-code"/);
    expect(input).toContain('value="code-789xyz"');
    expect(input).toMatch(/\breadonly\b/);
    expect(html).toMatch(/<title>\s*Login successful · Acme SSO\s*<\/title>/);
  });

  it('error.html: shows ErrType and ErrMsg, escaped', async () => {
    const html = await fe.render('error.html', { ErrType: 'Bad Request', ErrMsg: `bad ${XSS}` });
    expect(html).toContain('<h1 class="theme-heading">Bad Request</h1>');
    expect(html).toContain('bad &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script');
    expect(html).toMatch(/<title>\s*Bad Request · Acme SSO\s*<\/title>/);
  });

  it('device.html: POST form with csrf_token and user_code', async () => {
    const html = await fe.render('device.html', { ...samples['device.html'], Invalid: true });
    expect(tag(html, /<form /)).toContain('method="post" action="/dex/device/auth/verify_code"');
    expect(hiddenField(html, 'csrf_token')).toBe('csrf-dev');
    const input = tag(html, /<input\s+class="theme-form-input theme-code"/);
    expect(input).toContain('name="user_code"');
    expect(input).toContain('value="ABCD-EFGH"');
    expect(input).toContain('autocomplete="one-time-code"');
    expect(html).toContain('The code is invalid or has expired.');
  });

  it('device_success.html: names the client', async () => {
    const html = await fe.render('device_success.html', samples['device_success.html']);
    expect(html).toContain('Login successful for kubectl</h1>');
    expect(html).toContain('Return to your device to continue.');
  });

  it('rejects a template name that is not a page', async () => {
    await expect(fe.render('header.html' as TemplateName, {})).rejects.toThrow(/unknown template/);
  });
});

describe('built-in template files', () => {
  it('contain no script, inline style, event handler or raw output', async () => {
    const dir = join(BUILTIN_WEB_DIR, 'templates');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.html'));
    expect(files).toEqual(expect.arrayContaining([...TEMPLATE_NAMES, 'header.html', 'footer.html']));
    for (const f of files) {
      const text = await readFile(join(dir, f), 'utf8');
      expect([f, /<script/i.test(text)]).toEqual([f, false]);
      expect([f, /<style|style=/i.test(text)]).toEqual([f, false]);
      expect([f, /\son[a-z]+\s*=/i.test(text)]).toEqual([f, false]);
      expect([f, /\|\s*raw\b/.test(text)]).toEqual([f, false]);
    }
  });
});

describe('extra, url and logo', () => {
  it('footer shows tos_footer_link from extra, escaped, and nothing when unset', async () => {
    const withTos = await Frontend.load(
      config({ extra: { tos_footer_link: 'https://example.com/terms?a=<b>' } }),
      ISSUER,
    );
    const html = await withTos.render('error.html', samples['error.html']);
    expect(html).toContain('<footer class="theme-footer">');
    expect(html).toContain('href="https://example.com/terms?a=&lt;b&gt;"');
    expect(html).not.toContain('<b>');

    const without = await Frontend.load(config(), ISSUER);
    expect(await without.render('error.html', samples['error.html'])).not.toContain('<footer');
  });

  it('url resolves against the issuer path, passes absolute URLs and drops script URLs', async () => {
    const sub = await Frontend.load(config(), 'http://h/dex');
    expect(sub.url('static/main.css')).toBe('/dex/static/main.css');
    expect(sub.url('theme/logo.png')).toBe('/dex/theme/logo.png');
    expect(sub.url('../theme/client-logo.png')).toBe('/theme/client-logo.png');
    expect(sub.url('/elsewhere/x.png')).toBe('/elsewhere/x.png');
    expect(sub.url('https://cdn.example.com/logo.png')).toBe('https://cdn.example.com/logo.png');
    expect(sub.url('//cdn.example.com/logo.png')).toBe('http://cdn.example.com/logo.png');
    expect(sub.url('javascript:alert(1)')).toBe('');
    expect(sub.url(' JavaScript:alert(1)')).toBe('');
    expect(sub.url('data:text/html,<b>')).toBe('');
    expect(sub.url('data:image/png;base64,AAAA')).toBe('data:image/png;base64,AAAA');

    const trailing = await Frontend.load(config(), 'http://h/dex/');
    expect(trailing.url('static/main.css')).toBe('/dex/static/main.css');
    const root = await Frontend.load(config(), 'https://login.example.com');
    expect(root.url('static/main.css')).toBe('/static/main.css');
    const html = await root.render('login.html', samples['login.html']);
    expect(html).toContain('href="/static/main.css"');
    expect(html).toContain('src="/theme/logo.png"');
  });

  it('logo: an absolute logoURL passes through, a relative one resolves against the issuer path', async () => {
    const abs = await Frontend.load(config({ logoURL: 'https://cdn.example.com/acme.svg' }), ISSUER);
    expect(await abs.render('oob.html', samples['oob.html'])).toContain(
      'src="https://cdn.example.com/acme.svg"',
    );
    const rel = await Frontend.load(config({ logoURL: 'theme/logo.svg' }), 'http://h/a/b');
    expect(await rel.render('oob.html', samples['oob.html'])).toContain('src="/a/b/theme/logo.svg"');
  });
});

describe('a custom frontend.dir', () => {
  const customDir = join(fixtures, 'custom');

  it('overrides file by file: custom login.html, built-in password.html', async () => {
    const fe = await Frontend.load(config({ dir: customDir }), ISSUER);
    const login = await fe.render('login.html', samples['login.html']);
    expect(login).toContain('<p id="custom-login">Custom login for Acme SSO</p>');
    expect(login).not.toContain('<main');
    const password = await fe.render('password.html', samples['password.html']);
    expect(password).toContain('autocomplete="current-password"');
    expect(password).toContain('<main id="main"');
    expect(fe.staticDirs).toEqual([join(customDir, 'static'), join(BUILTIN_WEB_DIR, 'static')]);
    expect(fe.staticDir).toBe(join(customDir, 'static'));
    expect(fe.robotsTxt).toBe(join(BUILTIN_WEB_DIR, 'robots.txt'));
  });

  it('{{ "tos_footer_link" | extra }} works as the seed writes it; missing and inherited keys are empty', async () => {
    const fe = await Frontend.load(
      config({ dir: customDir, extra: { tos_footer_link: '<b>https://example.com/terms</b>' } }),
      ISSUER,
    );
    const html = await fe.render('login.html', {});
    expect(html).toContain('<p id="tos">&lt;b&gt;https://example.com/terms&lt;/b&gt;</p>');
    expect(html).toContain('<p id="missing">[]</p>');
    expect(html).toContain('<p id="inherited">[]</p>');
    expect(html).toContain('<p id="asset">/dex/static/custom.css</p>');
  });

  it('a theme in the custom dir comes first, then the built-in theme of that name, then the default', async () => {
    const fe = await Frontend.load(config({ dir: customDir, theme: 'dark' }), ISSUER);
    expect(fe.theme).toBe('dark');
    expect(fe.themeDirs).toEqual([
      join(customDir, 'themes', 'dark'),
      join(BUILTIN_WEB_DIR, 'themes', 'dark'),
      join(BUILTIN_WEB_DIR, 'themes', 'light'),
    ]);
    expect(fe.themeDir).toBe(join(customDir, 'themes', 'dark'));
    const corp = await Frontend.load(config({ dir: customDir, theme: 'corp' }), ISSUER);
    expect(corp.warnings).toEqual([]);
    expect(corp.themeDirs).toEqual([
      join(customDir, 'themes', 'corp'),
      join(BUILTIN_WEB_DIR, 'themes', 'light'),
    ]);
  });

  it('refuses a frontend.dir that does not exist', async () => {
    await expect(Frontend.load(config({ dir: join(fixtures, 'no-such-dir') }), ISSUER)).rejects.toThrow(
      /frontend\.dir: .*no-such-dir is not a directory/,
    );
  });

  it('fails at load on an unknown filter (strictFilters), naming the template', async () => {
    await expect(Frontend.load(config({ dir: join(fixtures, 'bad-filter') }), ISSUER)).rejects.toThrow(
      /password\.html.*undefined filter: uppcase/s,
    );
  });

  it('render errors throw', async () => {
    const fe = await Frontend.load(config({ dir: join(fixtures, 'broken-partial') }), ISSUER);
    await expect(fe.render('error.html', { ErrMsg: 'x' })).rejects.toThrow(/no-such-partial\.html/);
  });
});

describe('themes', () => {
  it('dark uses the built-in dark theme', async () => {
    const fe = await Frontend.load(config({ theme: 'dark' }), ISSUER);
    expect(fe.warnings).toEqual([]);
    expect(fe.themeDir).toBe(join(BUILTIN_WEB_DIR, 'themes', 'dark'));
  });

  it.each(['neon', '../templates', ''])(
    'unknown theme %j falls back to light with a warning',
    async (theme) => {
      const fe = await Frontend.load(config({ theme }), ISSUER);
      expect(fe.theme).toBe('light');
      expect(fe.themeDirs).toEqual([join(BUILTIN_WEB_DIR, 'themes', 'light')]);
      expect(fe.warnings).toEqual([`frontend.theme: no theme ${JSON.stringify(theme)}; using "light"`]);
    },
  );

  it('every built-in theme ships styles.css, logo.png, logo.svg and favicon.png', async () => {
    for (const theme of ['light', 'dark']) {
      const files = await readdir(join(BUILTIN_WEB_DIR, 'themes', theme));
      expect(files.sort()).toEqual(['favicon.png', 'logo.png', 'logo.svg', 'styles.css']);
      const png = await readFile(join(BUILTIN_WEB_DIR, 'themes', theme, 'logo.png'));
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    }
  });
});
