import bcrypt from 'bcrypt';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { expectedProblems } from '../config/bad-configs.expected.js';

describe('latchkey CLI', () => {
  it('prints usage and exits 2 without a command', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: latchkey <command>');
    expect(r.stdout).toBe('');
  });

  it('rejects an unknown command with exit 2', async () => {
    const r = await runCli(['serv']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "serv"');
  });

  it('prints its version', async () => {
    const r = await runCli(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Latchkey Version: \d+\.\d+\.\d+\nNode Version: v24\./);
  });

  it('hash-password prints a bcrypt hash of stdin that verifies', async () => {
    const r = await runCli(['hash-password'], { input: 'correct horse\n' });
    expect(r.code).toBe(0);
    const hash = r.stdout.trim();
    expect(hash).toMatch(/^\$2b\$10\$/);
    expect(await bcrypt.compare('correct horse', hash)).toBe(true);
    expect(await bcrypt.compare('correct horse\n', hash)).toBe(false);
  });

  it('hash-password refuses an empty password and a bad cost', async () => {
    expect((await runCli(['hash-password'], { input: '' })).code).toBe(1);
    const bad = await runCli(['hash-password', '--cost', '4'], { input: 'x' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--cost must be an integer from 10 to 16');
  });

  it('serve needs exactly one config file', async () => {
    const r = await runCli(['serve']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expected exactly one config file');
  });

  it.each(['0', '257', 'many', '1.5', ''])(
    'serve refuses --workers %j with exit 2 before listening',
    async (n) => {
      const r = await runCli(['serve', '--workers', n, 'examples/config-dev.yaml']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--workers must be a number from 1 to 256 or "auto"');
    },
  );

  it('serve --check reports config problems by path with exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-cli-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      'issuer: http://127.0.0.1:5556/dex\nstorage:\n  type: postgres\nweb:\n  http: 127.0.0.1:5556\n',
    );
    const r = await runCli(['serve', '--check', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/storage\.type: .*not supported by Latchkey/);
  });

  it('serve --check fails on a missing file with exit 2', async () => {
    const r = await runCli(['serve', '--check', '/nonexistent/latchkey.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/nonexistent/latchkey.yaml');
  });

  it('config-schema prints a JSON Schema', async () => {
    const r = await runCli(['config-schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { properties?: Record<string, unknown> };
    expect(Object.keys(schema.properties ?? {})).toEqual(
      expect.arrayContaining(['issuer', 'storage', 'staticClients']),
    );
  });
});

describe('latchkey serve --check on every malformed config', () => {
  it.each(Object.entries(expectedProblems))('%s exits 2 naming each problem', async (file, problems) => {
    const r = await runCli(['serve', '--check', `test/fixtures/config-bad/${file}`], {
      env: { DEX_EXPAND_ENV: '' },
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    for (const p of problems) expect(r.stderr).toContain(`  ${p}\n`);
  });
});

describe('latchkey serve --check validates connector settings without dialling', () => {
  it('names the key path of a bad LDAP setting and exits 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-cli-'));
    const file = join(dir, 'ldap.yaml');
    await writeFile(
      file,
      [
        'issuer: http://127.0.0.1:5556/dex',
        'storage: {type: memory}',
        'web: {http: 127.0.0.1:5556}',
        'connectors:',
        '- {type: ldap, id: ldap, name: LDAP, config: {host: "ldap.invalid:636", userSearch: {username: uid}}}',
      ].join('\n'),
    );
    const r = await runCli(['serve', '--check', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('  connectors[ldap].config.userSearch.baseDN: required\n');
  });

  it("takes the github, oidc and oauth connectors of Dex's documentation without a warning", async () => {
    const r = await runCli(['serve', '--check', 'test/fixtures/dex-docs-connectors.yaml'], {
      env: {
        GITHUB_CLIENT_ID: 'Iv1.0123456789abcdef',
        GITHUB_CLIENT_SECRET: 'gh-secret',
        GOOGLE_CLIENT_ID: '1234.apps.googleusercontent.com',
        GOOGLE_CLIENT_SECRET: 'google-secret',
        CUSTOM_CLIENT_ID: 'custom-id',
        CUSTOM_CLIENT_SECRET: 'custom-secret',
        CUSTOM_CALLBACK: 'http://127.0.0.1:5556/dex/callback',
      },
    });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain('configuration is valid');
  });

  it("refuses the seed's GitHub connector when its $VAR credentials are unset", async () => {
    const r = await runCli(['serve', '--check', 'examples/k8s/config.yaml'], {
      env: { GITHUB_CLIENT_ID: '', GITHUB_CLIENT_SECRET: '' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('connectors[github].config.clientID: required');
  });

  it('names the key path of a bad setting of each upstream connector type', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-cli-'));
    const file = join(dir, 'upstreams.yaml');
    await writeFile(
      file,
      [
        'issuer: http://127.0.0.1:5556/dex',
        'storage: { type: memory }',
        'web: { http: 127.0.0.1:5556 }',
        'connectors:',
        '  - { type: oidc, id: up, name: Up, config: { issuer: [42] } }',
        '  - type: github',
        '    id: gh',
        '    name: GH',
        '    config: { clientID: id, clientSecret: s, org: a, orgs: [{ name: b }] }',
        '  - type: oauth',
        '    id: oa',
        '    name: OA',
        '    config: { clientID: id, clientSecret: s, authorizationURL: "https://x/a", tokenURL: [7] }',
      ].join('\n'),
    );
    const r = await runCli(['serve', '--check', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('  connectors[up].config.issuer: expected a string, got a list\n');
    expect(r.stderr).toContain('  connectors[gh].config.org: cannot be combined with orgs');
    expect(r.stderr).toContain('  connectors[oa].config.tokenURL: expected a string, got a list\n');
  });
});
