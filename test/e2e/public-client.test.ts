import { startServer, type ServerProcess } from '../helpers/cli.js';
import { exampleConfig, type TestServerConfig } from '../helpers/config.js';
import { TestBrowser } from '../helpers/browser.js';
import { postForm } from '../helpers/flows.js';

// The public `kubernetes` client of examples/config-dev.yaml, as kubectl plugins use it: loopback redirects
// on any port (registered path only) and the out-of-band page, always with PKCE (S256).

// RFC 7636 Appendix B's example pair.
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
describe('public clients', () => {
  let cfg: TestServerConfig;
  let server: ServerProcess;

  beforeAll(async () => {
    cfg = await exampleConfig('examples/config-dev.yaml');
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function loginTo(redirectURI: string) {
    const browser = new TestBrowser();
    const params = new URLSearchParams({
      client_id: 'kubernetes',
      redirect_uri: redirectURI,
      response_type: 'code',
      scope: 'openid email groups',
      connector_id: 'local',
      state: 'xyz',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
    });
    const form = await browser.open(`${cfg.issuer}/auth?${params}`);
    const approval = await browser.submit(form, { login: 'admin@example.com', password: 'password' });
    return browser.submit(
      approval,
      {},
      { button: { name: 'approval', value: 'approve' }, stopAt: redirectURI },
    );
  }

  const redeem = (code: string, redirectURI: string) =>
    postForm(`${cfg.issuer}/token`, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectURI,
      client_id: 'kubernetes',
      code_verifier: VERIFIER,
    });

  it('shows the code on oob.html for urn:ietf:wg:oauth:2.0:oob, redeemable by client_id alone', async () => {
    const page = await loginTo('urn:ietf:wg:oauth:2.0:oob');
    expect(page.status).toBe(200);
    const code = page.$('input[readonly]').attr('value') ?? page.$('code').text();
    expect(code).toMatch(/^[a-z][a-z2-7]{24}$/);
    const r = await redeem(code, 'urn:ietf:wg:oauth:2.0:oob');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ token_type: 'bearer', id_token: expect.any(String) });
  });

  it('accepts a loopback redirect on another port with the registered path', async () => {
    const page = await loginTo('http://localhost:39123');
    const callback = new URL(page.url);
    expect(callback.port).toBe('39123');
    expect(callback.searchParams.get('state')).toBe('xyz');
    const r = await redeem(callback.searchParams.get('code')!, 'http://localhost:39123');
    expect(r.status).toBe(200);
  });

  it('refuses to start a login without PKCE, back to the client', async () => {
    const res = await fetch(
      `${cfg.issuer}/auth?${new URLSearchParams({ client_id: 'kubernetes', redirect_uri: 'http://localhost:8000', response_type: 'code', scope: 'openid', state: 's' })}`,
      { redirect: 'manual' },
    );
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toBe('PKCE is required: send code_challenge');
  });

  it('refuses a loopback redirect with another path', async () => {
    const res = await fetch(
      `${cfg.issuer}/auth?${new URLSearchParams({ client_id: 'kubernetes', redirect_uri: 'http://localhost:8000/steal', response_type: 'code', scope: 'openid' })}`,
      { redirect: 'manual' },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});
