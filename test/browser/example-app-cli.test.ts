import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

// `latchkey example-app`'s command line: what it refuses before it starts (the journeys are in
// example-app.test.ts).

describe('latchkey example-app flags', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-example-app-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--help prints every flag with its default; `latchkey help` lists the command', async () => {
    const r = await runCli(['example-app', '--help']);
    expect(r.code).toBe(0);
    for (const text of [
      '--issuer URL             the issuer (default http://127.0.0.1:5556/dex)',
      '--issuer-root-ca FILE',
      '--listen URL             where to serve the app (default http://127.0.0.1:5555)',
      '(default http://127.0.0.1:5555/callback)',
      '--client-id ID           (default example-app)',
      '--client-secret SECRET   (default ZXhhbXBsZS1hcHAtc2VjcmV0',
      '--scopes LIST',
      '--cross-client ID',
      '--device',
    ]) {
      expect(r.stdout).toContain(text);
    }
    const help = await runCli(['help']);
    expect(help.stdout).toMatch(/^ {2}example-app {7}/m);
  });

  it.each([
    [['--listen', 'https://127.0.0.1:5555'], '--listen must be http://HOST:PORT'],
    [['--issuer', 'ftp://example.com'], '--issuer must be an http(s) URL'],
    [['--redirect-uri', 'not a url'], '--redirect-uri must be an http(s) URL'],
    [['--nope'], "Unknown option '--nope'"],
  ])('refuses %j as a usage error (exit 2)', async (args, message) => {
    const r = await runCli(['example-app', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`latchkey example-app: ${message}`);
    expect(r.stderr).toContain('Usage: latchkey example-app');
  });

  it('refuses an --issuer-root-ca it cannot read or that holds no certificate', async () => {
    const missing = await runCli(['example-app', '--issuer-root-ca', join(dir, 'missing.pem')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read --issuer-root-ca');
    const notPem = join(dir, 'not.pem');
    await writeFile(notPem, 'hello\n');
    const bad = await runCli(['example-app', '--issuer-root-ca', notPem]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`--issuer-root-ca ${notPem} holds no PEM certificate`);
  });

  it('exits 1 naming the reason when the issuer cannot be discovered', async () => {
    const issuer = `http://127.0.0.1:${await freePort()}/dex`;
    const r = await runCli(['example-app', '--issuer', issuer, '--device']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^latchkey example-app: discovery of ${issuer} failed: fetch failed: .*ECONNREFUSED`),
    );
  });
});
