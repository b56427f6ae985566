import bcrypt from 'bcrypt';
import { TestBrowser, type Page } from '../helpers/browser.js';
import { basicAuth, postForm } from '../helpers/flows.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';

// /device/callback finishes a device login only in the browser that entered the user code (issue 13 §10):
// another browser holding the callback URL is refused without touching the login, and a browser that entered
// its own user code cannot claim someone else's login by swapping `state`.

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let server: InProcessServer;

beforeAll(async () => {
  const hash = await bcrypt.hash('password', 10);
  server = await startInProcess(`
enablePasswordDB: true
staticPasswords:
- email: jane@example.com
  hash: '${hash}'
  username: jane
  userID: user-jane
staticClients:
- id: tv
  name: TV
  secret: tv-secret
  redirectURIs: ['http://127.0.0.1:5555/unused']
`);
});
afterAll(async () => {
  await server?.close();
});

async function startDevice(): Promise<{ deviceCode: string; userCode: string }> {
  const r = await postForm(`${server.issuer}/device/code`, { scope: 'openid' }, basicAuth('tv', 'tv-secret'));
  expect(r.status).toBe(200);
  return { deviceCode: String(r.body.device_code), userCode: String(r.body.user_code) };
}

const poll = (deviceCode: string) =>
  postForm(
    `${server.issuer}/token`,
    { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode },
    basicAuth('tv', 'tv-secret'),
  );

/** Enters the user code in `browser` and logs in and approves, stopping at the callback (not requested). */
async function loginUpTo(browser: TestBrowser, userCode: string): Promise<URL> {
  const callback = `${server.issuer}/device/callback`;
  let page: Page = await browser.open(`${server.issuer}/device`);
  page = await browser.submit(page, { user_code: userCode }, { stopAt: callback });
  page = await browser.submit(
    page,
    { login: 'jane@example.com', password: 'password' },
    { stopAt: callback },
  );
  page = await browser.submit(page, {}, { button: { name: 'approval', value: 'approve' }, stopAt: callback });
  expect(page.url.startsWith(callback)).toBe(true);
  return new URL(page.url);
}

describe('/device/callback', () => {
  it('refuses a browser other than the one that entered the user code, and leaves the login intact', async () => {
    const device = await startDevice();
    const browser = new TestBrowser();
    const callback = await loginUpTo(browser, device.userCode);

    const stranger = await new TestBrowser().open(callback.toString());
    expect(stranger.status).toBe(403);
    expect(stranger.$('body').text()).toContain('another browser');
    // A browser of its own that presents someone else's binding cookie fares no better.
    const other = new TestBrowser();
    await other.open(`${server.issuer}/device`);
    expect(other.cookie('latchkey_browser')).toEqual(expect.any(String));
    const forged = await fetch(callback, {
      headers: {
        cookie: [
          `latchkey_browser=${other.cookie('latchkey_browser')}`,
          `latchkey_device_login=${browser.cookie('latchkey_device_login')}`,
        ].join('; '),
      },
    });
    expect(forged.status).toBe(403);
    expect((await poll(device.deviceCode)).body.error).toBe('authorization_pending');

    // The code was not spent: the browser that entered the user code still finishes the login.
    const own = await browser.open(callback.toString());
    expect(own.status).toBe(200);
    const tokens = await poll(device.deviceCode);
    expect(tokens.status).toBe(200);
    expect(tokens.body.access_token).toEqual(expect.any(String));
  });

  it("refuses a code from someone else's login with state swapped for this browser's own user code", async () => {
    const victim = await startDevice();
    const callback = await loginUpTo(new TestBrowser(), victim.userCode);

    // The attacker entered the user code of their own device in their own browser, and holds the victim's
    // callback URL (a leak): they swap state for their own code.
    const attacker = await startDevice();
    const attackerBrowser = new TestBrowser();
    await loginUpTo(attackerBrowser, attacker.userCode);
    const swapped = new URL(callback);
    swapped.searchParams.set('state', attacker.userCode);
    const page = await attackerBrowser.open(swapped.toString());
    expect(page.status).toBe(400);
    expect((await poll(attacker.deviceCode)).body.error).toBe('authorization_pending');
  });
});
