import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startServer, type ServerProcess } from '../helpers/cli.js';
import { exampleConfig, type TestServerConfig } from '../helpers/config.js';
import { buildGoProgram, runProgram } from '../helpers/go.js';

// The seed's Go example (§1 "Writing Apps That Use Dex", consuming ID tokens) as a real Go program
// (test/go/oidc-verifier: go-oidc v3's NewProvider, Verifier(&oidc.Config{ClientID}), Verify, and the
// email/email_verified/groups claims), built by this test, against a server from examples/config-dev.yaml.
const ADMIN_SUB = 'CiQwOGE4Njg0Yi1kYjg4LTRiNzMtOTBhOS0zY2QxNjYxZjU0NjYSBWxvY2Fs';

describe("the seed's Go example (go-oidc v3) against examples/config-dev.yaml", () => {
  let cfg: TestServerConfig;
  let server: ServerProcess;
  let verifierBin: string;

  beforeAll(async () => {
    // A cold build downloads go-oidc from the Go module proxy and compiles it; a warm one is a cache hit.
    verifierBin = await buildGoProgram('oidc-verifier');
    cfg = await exampleConfig('examples/config-dev.yaml');
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
  }, 600_000);
  afterAll(async () => {
    await server?.stop();
  });

  /** An ID token for admin@example.com from the password grant (config-dev.yaml: passwordConnector local). */
  async function passwordGrantIdToken(clientId: string, clientSecret?: string): Promise<string> {
    return (await passwordGrant(clientId, clientSecret)).id_token as string;
  }

  async function passwordGrant(clientId: string, clientSecret?: string): Promise<Record<string, unknown>> {
    const body = new URLSearchParams({
      grant_type: 'password',
      username: 'admin@example.com',
      password: 'password',
      scope: 'openid email groups',
    });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (clientSecret === undefined) body.set('client_id', clientId);
    else {
      const basic = `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
    }
    const res = await fetch(`${cfg.issuer}/token`, { method: 'POST', headers, body });
    const json = (await res.json()) as Record<string, unknown>;
    expect({ status: res.status, json }).toMatchObject({
      status: 200,
      json: { id_token: expect.any(String) },
    });
    return json;
  }

  function verify(idToken: string, clientId: string) {
    return runProgram(verifierBin, ['--issuer', cfg.issuer, '--client-id', clientId], {
      input: idToken,
      timeoutMs: 20_000,
    });
  }

  it('verifies an ID token issued to example-app and reads email, email_verified and groups', async () => {
    const idToken = await passwordGrantIdToken('example-app', 'ZXhhbXBsZS1hcHAtc2VjcmV0');
    const result = await verify(idToken, 'example-app');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      subject: ADMIN_SUB,
      email: 'admin@example.com',
      email_verified: true,
      groups: ['team-a', 'team-a/admins'],
    });
  });

  it('verifies an access token as Dex users do (as an ID token): its grant_id claim changes nothing for them', async () => {
    const accessToken = (await passwordGrant('example-app', 'ZXhhbXBsZS1hcHAtc2VjcmV0'))
      .access_token as string;
    expect(Object.keys(decodeProtectedHeader(accessToken)).sort()).toEqual(['alg', 'kid']);
    expect(decodeJwt(accessToken).grant_id).toEqual(expect.any(String));
    const result = await verify(accessToken, 'example-app');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(result.stdout)).toMatchObject({ subject: ADMIN_SUB, email: 'admin@example.com' });
  });

  it('rejects an ID token issued to another client (kubernetes) for example-app', async () => {
    const idToken = await passwordGrantIdToken('kubernetes');
    // The token itself is sound: the verifier for its own client accepts it …
    const own = await verify(idToken, 'kubernetes');
    expect(own).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(own.stdout)).toMatchObject({ subject: ADMIN_SUB, email: 'admin@example.com' });
    // … and example-app's refuses it for its audience alone.
    const result = await verify(idToken, 'example-app');
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain('oidc: expected audience "example-app" got ["kubernetes"]');
  });

  it('rejects an ID token whose signature was tampered with', async () => {
    const idToken = await passwordGrantIdToken('example-app', 'ZXhhbXBsZS1hcHAtc2VjcmV0');
    const [header, payload, signature] = idToken.split('.') as [string, string, string];
    // Flip a character in the middle of the signature (the last one may only carry padding bits).
    const i = Math.floor(signature.length / 2);
    const flipped = signature[i] === 'A' ? 'B' : 'A';
    const tampered = `${header}.${payload}.${signature.slice(0, i)}${flipped}${signature.slice(i + 1)}`;
    expect(tampered).not.toBe(idToken);
    const result = await verify(tampered, 'example-app');
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain('failed to verify signature');
  });
});
