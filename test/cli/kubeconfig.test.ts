import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';

interface Kubeconfig {
  users: {
    name: string;
    user: { exec: { apiVersion: string; command: string; args: string[]; interactiveMode: string } };
  }[];
  clusters?: { name: string; cluster: { server: string; 'certificate-authority-data'?: string } }[];
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  'current-context'?: string;
}

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile('kubectl', args, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

describe('latchkey kubeconfig', () => {
  it('prints a kubelogin exec user with the CA embedded, that kubectl reads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-'));
    const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    await writeFile(join(dir, 'ca.pem'), caPem);
    const r = await runCli([
      'kubeconfig',
      '--issuer',
      'https://dex.example.com:32000/dex',
      '--client-id',
      'kubernetes',
      '--client-secret',
      'ZXhhbXBsZS1hcHAtc2VjcmV0',
      '--ca-file',
      join(dir, 'ca.pem'),
      '--cluster',
      'prod=https://prod.example.com:6443',
      '--cluster',
      'dev=https://dev.example.com:6443',
      '--cluster-client-id',
      'dev=kubernetes-dev',
    ]);
    expect(r.code).toBe(0);
    const doc = parse(r.stdout) as Kubeconfig;
    expect(doc.users.map((u) => u.name)).toEqual(['oidc', 'dev-oidc']);
    const exec = doc.users[0]!.user.exec;
    expect(exec).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'kubectl',
      interactiveMode: 'IfAvailable',
    });
    expect(exec.args).toEqual([
      'oidc-login',
      'get-token',
      '--oidc-issuer-url=https://dex.example.com:32000/dex',
      '--oidc-client-id=kubernetes',
      '--oidc-client-secret=ZXhhbXBsZS1hcHAtc2VjcmV0',
      '--oidc-extra-scope=email',
      '--oidc-extra-scope=groups',
      '--oidc-extra-scope=offline_access',
      `--certificate-authority-data=${Buffer.from(caPem).toString('base64')}`,
    ]);
    expect(doc.users[1]!.user.exec.args).toContain('--oidc-client-id=kubernetes-dev');
    expect(doc.contexts).toEqual([
      { name: 'prod', context: { cluster: 'prod', user: 'oidc' } },
      { name: 'dev', context: { cluster: 'dev', user: 'dev-oidc' } },
    ]);
    expect(doc['current-context']).toBe('prod');

    const file = join(dir, 'kubeconfig');
    await writeFile(file, r.stdout);
    const view = await kubectl([
      'config',
      'view',
      '--kubeconfig',
      file,
      '-o',
      'jsonpath={.users[0].user.exec.args[1]}',
    ]);
    expect(view).toMatchObject({ code: 0, stdout: 'get-token' });
    const ctx = await kubectl(['config', 'get-contexts', '--kubeconfig', file, '-o', 'name']);
    expect(ctx.stdout.trim().split('\n')).toEqual(['dev', 'prod']);
  });

  it('documents every flag in --help', async () => {
    const r = await runCli(['kubeconfig', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--issuer',
      '--client-id',
      '--client-secret',
      '--ca-file',
      '--scope',
      '--grant-type',
      '--user',
      '--exec-command',
      '--exec-api-version',
      '--cluster',
      '--cluster-ca',
      '--cluster-client-id',
      '--current-context',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it.each([
    [['--client-id', 'k'], '--issuer must be an http(s) URL'],
    [['--issuer', 'https://x'], '--client-id is required'],
    [
      ['--issuer', 'https://x', '--client-id', 'k', '--grant-type', 'implicit'],
      '--grant-type "implicit" is not one of',
    ],
    [
      ['--issuer', 'https://x', '--client-id', 'k', '--cluster', 'prod'],
      '--cluster "prod": expected NAME=https://SERVER',
    ],
    [
      ['--issuer', 'https://x', '--client-id', 'k', '--cluster-ca', 'ghost=/x'],
      '--cluster-ca "ghost=/x": expected NAME=VALUE',
    ],
    [['--issuer', 'https://x', '--client-id', 'k', '--ca-file', '/nonexistent.pem'], 'cannot read --ca-file'],
    [['--issuer', 'https://x', '--client-id', 'k', '--bogus'], "Unknown option '--bogus'"],
  ])('refuses %j with exit 2', async (args, message) => {
    const r = await runCli(['kubeconfig', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
