import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { availableParallelism } from 'node:os';
import { childPids, startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { basicAuth, postForm } from '../helpers/flows.js';

describe('latchkey serve', () => {
  let cfg: TestServerConfig;
  let server: ServerProcess | undefined;
  let workers: number[] = [];

  beforeAll(async () => {
    cfg = await writeTestConfig({
      // A password login, so that /token shows in the metrics (Dex's dev hash of "password").
      extra: [
        'enablePasswordDB: true',
        'oauth2:\n  passwordConnector: local',
        'staticPasswords:',
        '- email: admin@example.com',
        '  hash: "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"',
        '  username: admin',
        '  userID: 08a8684b-db88-4b73-90a9-3cd1661f5466',
      ].join('\n'),
    });
    server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs one worker per core by default, its telemetry answering as soon as the web does', async () => {
    // Right after the first answer of the web listener (startServer waited for it): probes find the
    // primary's telemetry listening and ready.
    const ready = await fetch(`http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);
    expect(ready.status).toBe(200);
    const cores = availableParallelism();
    workers = await childPids(server!.child.pid!);
    // One core: a single process (no primary); more: a primary and a worker per core.
    expect(workers).toHaveLength(cores === 1 ? 0 : cores);
  });

  it('serves discovery with the configured issuer and endpoints under the issuer path', async () => {
    const res = await fetch(`${cfg.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(cfg.issuer);
    expect(doc.jwks_uri).toBe(`${cfg.issuer}/keys`);
    expect(doc.subject_types_supported).toEqual(['public']);
    expect(doc.id_token_signing_alg_values_supported).toEqual(['RS256']);
    for (const [key, value] of Object.entries(doc)) {
      if (key.endsWith('_endpoint') || key.endsWith('_uri'))
        expect(value).toMatch(new RegExp(`^${cfg.issuer}/`));
    }
  });

  it('does not serve routes outside the issuer path', async () => {
    const res = await fetch(`http://127.0.0.1:${cfg.webPort}/.well-known/openid-configuration`);
    expect(res.status).toBe(404);
  });

  it('publishes the active and the next signing key with a short cache lifetime', async () => {
    const res = await fetch(`${cfg.issuer}/keys`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/^max-age=\d+, must-revalidate$/);
    const jwks = (await res.json()) as JSONWebKeySet;
    expect(jwks.keys.length).toBe(2);
    for (const k of jwks.keys) {
      expect(k).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256' });
      expect(k).not.toHaveProperty('d');
    }
    expect(() => createLocalJWKSet(jwks)).not.toThrow();
  });

  it('sends strict security headers', async () => {
    const res = await fetch(`${cfg.issuer}/.well-known/openid-configuration`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('answers /healthz on the web listener', async () => {
    const res = await fetch(`${cfg.issuer}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Health check passed');
  });

  it('serves liveness, readiness and metrics on the telemetry listener', async () => {
    const base = `http://127.0.0.1:${cfg.telemetryPort}`;
    expect((await fetch(`${base}/healthz/live`)).status).toBe(200);
    const ready = await fetch(`${base}/healthz/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true });
    await fetch(`${cfg.issuer}/keys`);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/http_requests_total\{code="200",method="GET",handler="\/keys"\} \d+/);
    expect(metrics).toContain('latchkey_build_info{');
  });

  it("counts a login under Dex's handler name for the token endpoint", async () => {
    const login = await postForm(
      `${cfg.issuer}/token`,
      { grant_type: 'password', username: 'admin@example.com', password: 'password', scope: 'openid' },
      basicAuth('example-app', 'ZXhhbXBsZS1hcHAtc2VjcmV0'),
    );
    expect(login.status).toBe(200);
    expect(typeof login.body.id_token).toBe('string');
    const metrics = await (await fetch(`http://127.0.0.1:${cfg.telemetryPort}/metrics`)).text();
    expect(metrics).toMatch(/http_requests_total\{code="200",method="POST",handler="\/token"\} [1-9]\d*/);
    expect(metrics).toMatch(/latchkey_http_request_duration_seconds_bucket\{[^}]*handler="\/token"/);
  });

  it('logs JSON lines with a request id and never the query string', async () => {
    await fetch(`${cfg.issuer}/keys?code=super-secret-code`);
    const lines = server!
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const request = lines.find((l) => l.path === '/dex/keys' && l.method === 'GET' && l.status === 200);
    expect(request).toBeDefined();
    expect(request!.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(server!.output()).not.toContain('super-secret-code');
  });

  it('shuts down gracefully on SIGTERM with exit code 0, its workers first', async () => {
    const code = await server!.stop();
    server = undefined;
    expect(code).toBe(0);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  });
});
