import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { stringify } from 'yaml';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { waitUntilPast } from '../helpers/kube-oidc.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import { BEARER_API, startProgram, waitForHttp, type Program } from './programs.js';

// examples/bearer-api/server.ts, the seed's second kind of app (§1 "Consuming ID tokens"), run as a process
// against a real Latchkey: it accepts ID tokens issued to example-app with a verified email, refuses every
// other token with `WWW-Authenticate: Bearer error="invalid_token"`, and fetches the JWKS again when a token
// is signed by a key it has not seen. (The token printed by `latchkey example-app` is accepted in
// example-app.test.ts.) Tokens come from the password grant.

// bcrypt of "password" (examples/config-dev.yaml's).
const HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
const EXAMPLE_APP = { id: 'example-app', secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0' };
const OTHER_APP = { id: 'other-app', secret: 'b3RoZXItYXBwLXNlY3JldA' };

describe('the bearer API example (examples/bearer-api)', () => {
  let dir: string;
  let port: number;
  let issuer: string;
  /** Latchkey; replaced by one with new signing keys in the last test. */
  let latchkey: ServerProcess;
  /** A second Latchkey for the same issuer and keys (same SQLite file), with 3 s ID tokens. */
  let shortLived: ServerProcess;
  let shortLivedPort: number;
  let api: Program;
  let apiURL: string;

  /** A Latchkey config for `issuer`, served on `webPort`, on the SQLite file `db`. */
  async function startLatchkey(webPort: number, db: string, idTokens?: string): Promise<ServerProcess> {
    const telemetryPort = await freePort();
    const file = join(dir, `config-${webPort}-${telemetryPort}.yaml`);
    await writeFile(
      file,
      stringify({
        issuer,
        storage: { type: 'sqlite3', config: { file: join(dir, db) } },
        web: { http: `127.0.0.1:${webPort}` },
        telemetry: { http: `127.0.0.1:${telemetryPort}` },
        logger: { level: 'info', format: 'json' },
        ...(idTokens ? { expiry: { idTokens } } : {}),
        oauth2: { passwordConnector: 'local' },
        staticClients: [
          { ...EXAMPLE_APP, name: 'Example App', redirectURIs: ['http://127.0.0.1:5555/callback'] },
          { ...OTHER_APP, name: 'Other App', redirectURIs: ['http://127.0.0.1:5555/callback'] },
        ],
        enablePasswordDB: true,
        staticPasswords: [
          { email: 'alice@example.com', hash: HASH, username: 'alice', userID: 'alice-id', groups: ['devs'] },
          { email: 'bob@example.com', hash: HASH, username: 'bob', userID: 'bob-id', emailVerified: false },
        ],
      }),
    );
    return startServer(file, `http://127.0.0.1:${telemetryPort}/healthz/ready`);
  }

  /** An ID token from the password grant at `base` (the issuer's routes on some port). */
  async function idToken(
    email: string,
    client = EXAMPLE_APP,
    base = `http://127.0.0.1:${port}/dex`,
  ): Promise<string> {
    const res = await fetch(`${base}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'password',
        username: email,
        password: 'password',
        scope: 'openid email groups',
      }),
    });
    if (res.status !== 200) throw new Error(`password grant: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id_token: string }).id_token;
  }

  const me = (token?: string) =>
    fetch(`${apiURL}/me`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

  /** Expects a 401 with RFC 6750's invalid_token challenge carrying `description`. */
  async function expectInvalidToken(res: Response, description: string): Promise<void> {
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="bearer-api", error="invalid_token", error_description="${description}"`,
    );
    expect(await res.json()).toEqual({ error: 'invalid_token', error_description: description });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-bearer-api-'));
    port = await freePort();
    issuer = `http://127.0.0.1:${port}/dex`;
    latchkey = await startLatchkey(port, 'latchkey.db');
    shortLivedPort = await freePort();
    shortLived = await startLatchkey(shortLivedPort, 'latchkey.db', '3s');
    const apiPort = await freePort();
    apiURL = `http://127.0.0.1:${apiPort}`;
    api = startProgram([
      BEARER_API,
      '--issuer',
      issuer,
      '--client-id',
      'example-app',
      '--listen',
      `127.0.0.1:${apiPort}`,
      // No cooldown: a key this test has just created is looked up at once.
      '--jwks-cooldown',
      '0',
    ]);
    await waitForHttp(api, `${apiURL}/healthz`);
  }, 60_000);

  afterAll(async () => {
    await api?.stop();
    await shortLived?.stop();
    await latchkey?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('accepts an ID token issued to example-app: the email and groups of its user', async () => {
    const token = await idToken('alice@example.com');
    const res = await me(token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      email: 'alice@example.com',
      groups: ['devs'],
      sub: decodeJwt(token).sub,
    });
  });

  it('asks for a token when none is sent (a bare Bearer challenge)', async () => {
    const res = await me();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="bearer-api"');
    const basic = await fetch(`${apiURL}/me`, { headers: { authorization: 'Basic YTpi' } });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toBe('Bearer realm="bearer-api"');
  });

  it('refuses a token Latchkey issued to another client (its aud is other-app)', async () => {
    const token = await idToken('alice@example.com', OTHER_APP);
    expect(decodeJwt(token)).toMatchObject({ iss: issuer, aud: 'other-app', email: 'alice@example.com' });
    await expectInvalidToken(await me(token), 'the token was not issued to example-app');
  });

  it('refuses a tampered token and an unsigned one', async () => {
    const [header, payload, signature] = (await idToken('alice@example.com')).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, email: 'mallory@example.com' })).toString(
      'base64url',
    );
    await expectInvalidToken(await me(`${header}.${forged}.${signature}`), 'the token is invalid');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    await expectInvalidToken(await me(`${none}.${payload}.`), 'the token is invalid');
    // The untouched token still passes.
    expect((await me(`${header}.${payload}.${signature}`)).status).toBe(200);
  });

  it('refuses a token whose email is not verified', async () => {
    const token = await idToken('bob@example.com');
    expect(decodeJwt(token)).toMatchObject({ email: 'bob@example.com', email_verified: false });
    await expectInvalidToken(await me(token), 'the email address is not verified');
  });

  it('refuses an expired token, having accepted it while it was valid', async () => {
    const token = await idToken('alice@example.com', EXAMPLE_APP, `http://127.0.0.1:${shortLivedPort}/dex`);
    const claims = decodeJwt(token);
    expect(claims.iss).toBe(issuer);
    expect(claims.exp! - claims.iat!).toBe(3);
    expect((await me(token)).status).toBe(200);
    await waitUntilPast(claims.exp!);
    await expectInvalidToken(await me(token), 'the token has expired');
  });

  it('fetches the JWKS again for a key it has not seen: Latchkey restarted with new signing keys', async () => {
    const before = await idToken('alice@example.com');
    expect((await me(before)).status).toBe(200);
    await shortLived.stop();
    await latchkey.stop();
    // Same issuer and port, a new database: new signing keys, none of them known to the API.
    latchkey = await startLatchkey(port, 'latchkey-new.db');
    const after = await idToken('alice@example.com');
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    const res = await me(after);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { email: string }).email).toBe('alice@example.com');
    // The API asked the new Latchkey for its keys… (its log line crosses a pipe: poll for it)
    await waitFor(() => keyRequests(latchkey) > 0, { what: 'the JWKS request in the new server’s log' });
    // …and the old key, no longer published, is no longer trusted.
    await expectInvalidToken(await me(before), 'the token is signed by an unknown key');
  });
});

/** How many requests for the JWKS (`/dex/keys`) the server logged. */
function keyRequests(server: ServerProcess): number {
  return server
    .output()
    .split('\n')
    .filter((l) => {
      try {
        const line = JSON.parse(l) as { method?: string; path?: string };
        return line.method === 'GET' && line.path === '/dex/keys';
      } catch {
        return false;
      }
    }).length;
}
