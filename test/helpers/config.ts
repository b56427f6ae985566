import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export interface TestServerConfig {
  dir: string;
  file: string;
  issuer: string;
  webPort: number;
  telemetryPort: number;
}

/**
 * Writes a complete config for a test server on free loopback ports. `extra` is appended YAML
 * (top-level keys not already present).
 */
export async function writeTestConfig(opts: {
  storage?: string;
  issuerPath?: string;
  extra?: string;
  dir?: string;
  /** Leave out the static client example-app (e.g. to manage it as a resource instead). */
  noStaticClient?: boolean;
  /** Serve HTTPS (issuer https://…) with these files instead of plain HTTP. */
  tls?: { certFile: string; keyFile: string; minVersion?: '1.2' | '1.3' };
}): Promise<TestServerConfig> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'latchkey-test-')));
  const webPort = await freePort();
  const telemetryPort = await freePort();
  const scheme = opts.tls ? 'https' : 'http';
  const issuer = `${scheme}://127.0.0.1:${webPort}${opts.issuerPath ?? '/dex'}`;
  const file = join(dir, `config-${webPort}.yaml`);
  await writeFile(
    file,
    [
      `issuer: ${issuer}`,
      opts.storage ?? `storage:\n  type: sqlite3\n  config:\n    file: ${join(dir, 'latchkey.db')}`,
      opts.tls
        ? `web:\n  https: 127.0.0.1:${webPort}\n  tlsCert: ${opts.tls.certFile}\n  tlsKey: ${opts.tls.keyFile}` +
          (opts.tls.minVersion ? `\n  tlsMinVersion: "${opts.tls.minVersion}"` : '')
        : `web:\n  http: 127.0.0.1:${webPort}`,
      `telemetry:\n  http: 127.0.0.1:${telemetryPort}`,
      'logger:\n  level: info\n  format: json',
      opts.noStaticClient
        ? ''
        : 'staticClients:\n- id: example-app\n  secret: ZXhhbXBsZS1hcHAtc2VjcmV0\n  name: Example App\n  redirectURIs:\n  - http://127.0.0.1:5555/callback',
      opts.extra ?? '',
    ].join('\n'),
  );
  return { dir, file, issuer, webPort, telemetryPort };
}

/**
 * A config from examples/, moved onto free loopback ports and a private SQLite file, with `edit` applied
 * to the parsed YAML (so a test runs the example itself, not a lookalike).
 */
export async function exampleConfig(
  example: string,
  edit: (doc: Record<string, unknown>) => void = () => {},
): Promise<TestServerConfig> {
  const { parse, stringify } = await import('yaml');
  const { readFile } = await import('node:fs/promises');
  const { REPO_ROOT } = await import('./cli.js');
  const doc = parse(await readFile(join(REPO_ROOT, example), 'utf8')) as Record<string, unknown>;
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-example-'));
  const webPort = await freePort();
  const telemetryPort = await freePort();
  const path = new URL(String(doc.issuer)).pathname.replace(/\/+$/, '');
  const issuer = `http://127.0.0.1:${webPort}${path}`;
  doc.issuer = issuer;
  doc.web = { ...(doc.web as object), http: `127.0.0.1:${webPort}` };
  delete (doc.web as Record<string, unknown>).https;
  doc.telemetry = { http: `127.0.0.1:${telemetryPort}` };
  doc.storage = { type: 'sqlite3', config: { file: join(dir, 'latchkey.db') } };
  doc.logger = { level: 'info', format: 'json' };
  edit(doc);
  const file = join(dir, 'config.yaml');
  await writeFile(file, stringify(doc));
  return { dir, file, issuer, webPort, telemetryPort };
}

/**
 * Configuration lines for the user most server tests log in as: admin@example.com, password "password"
 * (bcrypt, cost 10), group admins, reachable through the password grant.
 */
export const ADMIN_USER_CONFIG = `enablePasswordDB: true
staticPasswords:
- email: admin@example.com
  hash: "$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW"
  username: admin
  userID: admin-1
  groups: [admins]
oauth2:
  passwordConnector: local`;
