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
}): Promise<TestServerConfig> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'latchkey-test-')));
  const webPort = await freePort();
  const telemetryPort = await freePort();
  const issuer = `http://127.0.0.1:${webPort}${opts.issuerPath ?? '/dex'}`;
  const file = join(dir, `config-${webPort}.yaml`);
  await writeFile(
    file,
    [
      `issuer: ${issuer}`,
      opts.storage ?? `storage:\n  type: sqlite3\n  config:\n    file: ${join(dir, 'latchkey.db')}`,
      `web:\n  http: 127.0.0.1:${webPort}`,
      `telemetry:\n  http: 127.0.0.1:${telemetryPort}`,
      'logger:\n  level: info\n  format: json',
      'staticClients:\n- id: example-app\n  secret: ZXhhbXBsZS1hcHAtc2VjcmV0\n  name: Example App\n  redirectURIs:\n  - http://127.0.0.1:5555/callback',
      opts.extra ?? '',
    ].join('\n'),
  );
  return { dir, file, issuer, webPort, telemetryPort };
}
