import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startServer } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

// Settings that must never face real users are said out loud (issue 13 §10): a mock connector logs a fixed
// test user in, and insecureSkipVerify leaves an upstream's certificate unchecked. `serve --check` prints
// them; `serve` logs them at start.

const dir = mkdtempSync(join(tmpdir(), 'latchkey-warnings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(port: number): string {
  const file = join(dir, `config-${port}.yaml`);
  writeFileSync(
    file,
    `issuer: http://127.0.0.1:${port}/dex
storage:
  type: memory
logger:
  format: json
web:
  http: 127.0.0.1:${port}
connectors:
- type: mockCallback
  id: mock
  name: Mock
- type: mockPassword
  id: mockpw
  name: Mock password
  config:
    username: kilgore
    password: trout
- type: ldap
  id: ad
  name: AD
  config:
    host: ldap.invalid:636
    insecureSkipVerify: true
    userSearch:
      baseDN: dc=example,dc=com
      username: uid
- type: oidc
  id: corp
  name: Corp
  config:
    issuer: http://127.0.0.1:1/unreachable
    clientID: latchkey
    clientSecret: secret
    redirectURI: http://127.0.0.1:${port}/dex/callback
    insecureSkipVerify: true
`,
  );
  return file;
}

const EXPECTED = [
  /connectors\[mock\]: type mockCallback logs anyone in, without a credential/,
  /connectors\[mockpw\]: type mockPassword logs whoever knows the username and password/,
  /connectors\[ad\]\.config\.insecureSkipVerify: the directory's TLS certificate is not checked/,
  /connectors\[corp\]\.config\.insecureSkipVerify: the provider's TLS certificate is not checked/,
];

describe('warnings about connectors that must not face real users', () => {
  it('serve --check prints them and still accepts the config', async () => {
    const r = await runCli(['serve', '--check', configFile(await freePort())]);
    expect(r.code).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    for (const pattern of EXPECTED) expect(warnings).toContainEqual(expect.stringMatching(pattern));
  });

  it('serve logs them at start', async () => {
    const port = await freePort();
    const server = await startServer(configFile(port), `http://127.0.0.1:${port}/dex/healthz`);
    const warnings = () =>
      server
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number | string; msg: string })
        .filter((r) => r.level === 40 || r.level === 'warn' || r.level === 'WARN')
        .map((r) => r.msg);
    try {
      // The log is written as the server starts; it may reach the pipe a little after /healthz answers.
      await waitFor(() => EXPECTED.every((p) => warnings().some((w) => p.test(w))), {
        what: 'the four warnings in the log',
        timeoutMs: 10_000,
      }).catch(() => undefined);
      for (const pattern of EXPECTED) expect(warnings()).toContainEqual(expect.stringMatching(pattern));
    } finally {
      await server.stop();
    }
  });
});
