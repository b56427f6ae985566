import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

// The configuration the plain manifests ship (manifests/20-config.yaml, a Secret) must not run as it is: its
// client secret and password hash are placeholders that `latchkey serve --check` refuses, naming each key,
// until the operator puts their own values there.

const GITHUB_ENV = { GITHUB_CLIENT_ID: 'an-id', GITHUB_CLIENT_SECRET: 'a-secret' };

describe('the configuration of manifests/20-config.yaml', () => {
  let dir: string;
  let shipped: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-shipped-config-'));
    const [secret] = parseAllDocuments(
      await readFile(join(REPO_ROOT, 'manifests/20-config.yaml'), 'utf8'),
    ).map((d) => d.toJS() as { kind: string; stringData: Record<string, string> });
    expect(secret?.kind).toBe('Secret');
    shipped = secret!.stringData['config.yaml']!;
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('fails serve --check (exit 2) naming each placeholder until it is replaced', async () => {
    const file = join(dir, 'shipped.yaml');
    await writeFile(file, shipped);
    const r = await runCli(['serve', '--check', file], { env: GITHUB_ENV });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('staticClients[0].secret: replace this placeholder');
    expect(r.stderr).toContain('staticPasswords[0].hash: replace this placeholder');
  });

  it('asks users to approve (skipApprovalScreen: false)', () => {
    const config = parse(shipped) as { oauth2?: { skipApprovalScreen?: boolean } };
    expect(config.oauth2?.skipApprovalScreen).toBe(false);
  });

  it('passes serve --check once the operator has put a secret and a hash of their own', async () => {
    const hashed = await runCli(['hash-password'], { input: 'a password of my own\n' });
    expect(hashed.code).toBe(0);
    const hash = hashed.stdout.trim();
    const own = shipped
      .replace('REPLACE-ME-with-a-random-client-secret', 'c2VjcmV0LW9mLW15LW93bg')
      .replace('REPLACE-ME-with-a-bcrypt-hash', hash);
    expect(own).not.toMatch(/REPLACE-ME/);
    const file = join(dir, 'own.yaml');
    await writeFile(file, own);
    const r = await runCli(['serve', '--check', file], { env: GITHUB_ENV });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain('configuration is valid');
  });
});
