import https from 'node:https';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { waitFor } from '../helpers/wait.js';

function gencert(out: string, args: string[] = []): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(
      join(REPO_ROOT, 'scripts/gencert.sh'),
      ['--ip', '127.0.0.1', '--out', out, ...args],
      (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve()),
    ),
  );
}

/** GET over HTTPS trusting `ca`; returns status and the server certificate's fingerprint. */
function get(
  url: string,
  opts: { ca: Buffer; agent?: https.Agent; maxVersion?: 'TLSv1.2' | 'TLSv1.3' },
): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca: opts.ca,
        agent: opts.agent ?? false,
        ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
      },
      (res) => {
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint }));
      },
    );
    req.on('error', reject);
  });
}

describe('HTTPS serving', () => {
  let cfg: TestServerConfig;
  let server: ServerProcess;
  let tlsDir: string;

  beforeAll(async () => {
    tlsDir = await mkdtemp(join(tmpdir(), 'latchkey-tls-'));
    await gencert(tlsDir);
    cfg = await writeTestConfig({
      storage: 'storage:\n  type: memory',
      tls: { certFile: join(tlsDir, 'cert.pem'), keyFile: join(tlsDir, 'key.pem'), minVersion: '1.3' },
    });
    const ca = await readFile(join(tlsDir, 'ca.pem'));
    server = await startServer(cfg.file, `http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);
    await waitFor(
      async () => (await get(`${cfg.issuer}/.well-known/openid-configuration`, { ca })).status === 200,
      {
        what: 'discovery over HTTPS',
      },
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves discovery over HTTPS with the configured issuer', async () => {
    const ca = await readFile(join(tlsDir, 'ca.pem'));
    const r = await get(`${cfg.issuer}/.well-known/openid-configuration`, { ca });
    expect(r.status).toBe(200);
  });

  it('refuses TLS 1.2 when tlsMinVersion is 1.3', async () => {
    const ca = await readFile(join(tlsDir, 'ca.pem'));
    await expect(get(`${cfg.issuer}/keys`, { ca, maxVersion: 'TLSv1.2' })).rejects.toThrow(
      /protocol|version|alert/i,
    );
  });

  it('reloads a replaced certificate without dropping open connections', async () => {
    const oldCA = await readFile(join(tlsDir, 'ca.pem'));
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: oldCA });
    const before = await get(`${cfg.issuer}/keys`, { ca: oldCA, agent });
    expect(before.status).toBe(200);

    await gencert(tlsDir, ['--force']);
    const newCA = await readFile(join(tlsDir, 'ca.pem'));
    const newFingerprint = new X509Certificate(await readFile(join(tlsDir, 'cert.pem'))).fingerprint256;
    expect(newFingerprint).not.toBe(before.fingerprint);

    await waitFor(
      async () => (await get(`${cfg.issuer}/keys`, { ca: newCA })).fingerprint === newFingerprint,
      { timeoutMs: 15_000, what: 'the new certificate on new connections' },
    );
    // The connection opened before the rotation still works, with the old certificate.
    const kept = await get(`${cfg.issuer}/keys`, { ca: oldCA, agent });
    expect(kept).toEqual({ status: 200, fingerprint: before.fingerprint });
    agent.destroy();
  });
});
