import { createHash, randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { join } from 'node:path';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { exampleConfig, type TestServerConfig } from '../helpers/config.js';
import { TestBrowser } from '../helpers/browser.js';
import { postForm } from '../helpers/flows.js';

// RFC 8628 against examples/config-dev.yaml, with the public `kubernetes` client (kubelogin's device-code).
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe('device authorization grant', () => {
  let cfg: TestServerConfig;
  let server: ServerProcess;

  beforeAll(async () => {
    cfg = await exampleConfig('examples/config-dev.yaml');
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  function tableState(): Record<string, string> {
    const db = new DatabaseSync(join(cfg.dir, 'latchkey.db'), { readOnly: true });
    try {
      const out: Record<string, string> = {};
      for (const t of ['device_requests', 'device_tokens', 'auth_requests', 'auth_codes', 'refresh_tokens']) {
        out[t] = JSON.stringify(db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all());
      }
      return out;
    } finally {
      db.close();
    }
  }

  async function startDevice(clientID = 'kubernetes', scope = 'openid email groups offline_access') {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const r = await postForm(`${cfg.issuer}/device/code`, {
      client_id: clientID,
      scope,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    return { ...r, verifier };
  }

  const poll = (deviceCode: string, verifier?: string, clientID = 'kubernetes') =>
    postForm(`${cfg.issuer}/token`, {
      grant_type: DEVICE_GRANT,
      device_code: deviceCode,
      client_id: clientID,
      ...(verifier ? { code_verifier: verifier } : {}),
    });

  async function userLogsIn(verificationURIComplete: string, approval: 'approve' | 'rejected') {
    const browser = new TestBrowser();
    const entry = await browser.open(verificationURIComplete);
    expect(entry.status).toBe(200);
    let page = await browser.submit(entry, {});
    const local = page.$('a[href*="/auth/local?"]').attr('href');
    if (local) page = await browser.open(new URL(local, page.url).toString());
    page = await browser.submit(page, { login: 'admin@example.com', password: 'password' });
    return browser.submit(page, {}, { button: { name: 'approval', value: approval } });
  }

  it('advertises the endpoint and the grant', async () => {
    const doc = (await (await fetch(`${cfg.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(doc.device_authorization_endpoint).toBe(`${cfg.issuer}/device/code`);
    expect(doc.grant_types_supported).toContain(DEVICE_GRANT);
  });

  it('logs a device in once: pending, slow_down, approval, tokens, then nothing', async () => {
    const started = await startDevice();
    expect(started.status).toBe(200);
    expect(started.headers.get('cache-control')).toBe('no-store');
    const body = started.body as Record<string, string | number>;
    expect(body).toMatchObject({
      user_code: expect.stringMatching(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/),
      verification_uri: `${cfg.issuer}/device`,
      expires_in: 300,
      interval: 5,
    });
    expect(body.verification_uri_complete).toBe(`${cfg.issuer}/device?user_code=${body.user_code}`);
    const deviceCode = body.device_code as string;

    const before = tableState();
    expect(await poll(deviceCode, started.verifier)).toMatchObject({
      status: 400,
      body: { error: 'authorization_pending' },
    });
    expect(await poll(deviceCode, started.verifier)).toMatchObject({
      status: 400,
      body: { error: 'slow_down' },
    });
    // Polling a pending login writes nothing.
    expect(tableState()).toEqual(before);

    const done = await userLogsIn(body.verification_uri_complete as string, 'approve');
    expect(done.status).toBe(200);
    expect(done.html).toContain('Kubernetes');

    expect(await poll(deviceCode, 'x'.repeat(43))).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect(await poll(deviceCode, started.verifier, 'example-app')).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
    const tokens = await poll(deviceCode, started.verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({
      token_type: 'bearer',
      id_token: expect.any(String),
      refresh_token: expect.any(String),
    });
    const claims = JSON.parse(
      Buffer.from((tokens.body.id_token as string).split('.')[1]!, 'base64url').toString(),
    );
    expect(claims).toMatchObject({
      aud: 'kubernetes',
      email: 'admin@example.com',
      groups: ['team-a', 'team-a/admins'],
    });
    // Redeemable once (Dex returns the same tokens until expiry).
    expect(await poll(deviceCode, started.verifier)).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
  });

  it('tells the device access_denied when the user declines', async () => {
    const started = await startDevice();
    const body = started.body as Record<string, string>;
    const page = await userLogsIn(body.verification_uri_complete!, 'rejected');
    expect(page.status).toBe(403);
    expect(await poll(body.device_code!, started.verifier)).toMatchObject({
      status: 400,
      body: { error: 'access_denied' },
    });
  });

  it('refuses unknown clients without writing anything', async () => {
    const before = tableState();
    const r = await startDevice('nobody');
    expect(r).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const confidential = await postForm(`${cfg.issuer}/device/code`, {
      client_id: 'example-app',
      client_secret: 'wrong',
    });
    expect(confidential).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(tableState()).toEqual(before);
  });

  it('answers a wrong user code on the page, without starting a login', async () => {
    const browser = new TestBrowser();
    const entry = await browser.open(`${cfg.issuer}/device`);
    const wrong = await browser.submit(entry, { user_code: 'BCDF-GHJK' });
    expect(wrong.status).toBe(400);
    expect(wrong.$('input[name=user_code]').length).toBe(1);
  });
});
