import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
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
      '--skip-check',
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
      '--context',
      '--kubeconfig',
      '--no-default-scopes',
      '--skip-check',
      '--output',
      '--force',
      '--oidc-issuer-url',
      '--oidc-client-id',
      '--oidc-client-secret',
      '--oidc-extra-scope',
      '--certificate-authority',
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
    [
      ['--issuer', 'https://x', '--oidc-issuer-url', 'https://y', '--client-id', 'k'],
      '--issuer and --oidc-issuer-url say different things',
    ],
    [
      ['--issuer', 'https://x', '--client-id', 'k', '--oidc-client-id', 'other'],
      '--client-id and --oidc-client-id say different things',
    ],
    [['--issuer', 'https://x', '--client-id', 'k', '--force'], '--force goes with -o FILE'],
    [
      ['--issuer', 'https://x', '--client-id', 'k', '--cluster', 'a=https://a', '--current-context', 'b'],
      '--current-context "b" is not a --cluster or --context',
    ],
  ])('refuses %j with exit 2', async (args, message) => {
    const r = await runCli(['kubeconfig', ...args, '--skip-check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});

describe('latchkey kubeconfig with kubelogin’s habits', () => {
  const LOGIN = ['--issuer', 'https://idp.example.com/dex', '--client-id', 'kubernetes', '--skip-check'];
  const execOf = (stdout: string) => (parse(stdout) as Kubeconfig).users[0]!.user.exec;
  const scopesOf = (stdout: string) =>
    execOf(stdout)
      .args.filter((a) => a.startsWith('--oidc-extra-scope='))
      .map((a) => a.slice('--oidc-extra-scope='.length));

  it('accepts kubelogin’s flag names, with the same kubeconfig as Latchkey’s names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-synonyms-'));
    await writeFile(join(dir, 'ca.pem'), 'CA');
    const ours = await runCli([
      'kubeconfig',
      '--issuer',
      'https://idp.example.com/dex',
      '--client-id',
      'kubernetes',
      '--client-secret',
      's3cret',
      '--scope',
      'profile',
      '--scope',
      'audience:server:client_id:other',
      '--ca-file',
      join(dir, 'ca.pem'),
      '--skip-check',
    ]);
    const theirs = await runCli([
      'kubeconfig',
      '--oidc-issuer-url=https://idp.example.com/dex',
      '--oidc-client-id=kubernetes',
      '--oidc-client-secret=s3cret',
      '--oidc-extra-scope=profile',
      '--oidc-extra-scope=audience:server:client_id:other',
      `--certificate-authority=${join(dir, 'ca.pem')}`,
      '--skip-check',
    ]);
    expect(theirs).toMatchObject({ code: 0, stderr: '' });
    expect(theirs.stdout).toBe(ours.stdout);
    expect(execOf(theirs.stdout).args).toEqual(
      expect.arrayContaining([
        '--oidc-client-secret=s3cret',
        `--certificate-authority-data=${Buffer.from('CA').toString('base64')}`,
      ]),
    );
  });

  it('adds --scope and --oidc-extra-scope to the default scopes, each once', async () => {
    const r = await runCli([
      'kubeconfig',
      ...LOGIN,
      '--scope',
      'profile',
      '--oidc-extra-scope',
      'groups',
      '--oidc-extra-scope',
      'openid',
      '--scope',
      'federated:id',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    // openid is left to kubelogin, which always asks for it.
    expect(scopesOf(r.stdout)).toEqual(['email', 'groups', 'offline_access', 'profile', 'federated:id']);
  });

  it('drops default scopes only with --no-default-scopes, and warns what that costs', async () => {
    const r = await runCli(['kubeconfig', ...LOGIN, '--no-default-scopes', '--scope', 'email']);
    expect(r.code).toBe(0);
    expect(scopesOf(r.stdout)).toEqual(['email']);
    expect(r.stderr).toContain('warning: no groups scope');
    expect(r.stderr).toContain('warning: no offline_access scope');
  });

  it('says in the exec entry how to install kubelogin, for either exec command', async () => {
    const plugin = execOf((await runCli(['kubeconfig', ...LOGIN])).stdout) as { installHint?: string };
    expect(plugin.installHint).toContain('kubectl krew install oidc-login');
    const binary = execOf((await runCli(['kubeconfig', ...LOGIN, '--exec-command', 'kubelogin'])).stdout) as {
      installHint?: string;
      command: string;
    };
    expect(binary.command).toBe('kubelogin');
    expect(binary.installHint).toContain('brew install kubelogin');
    expect(binary.installHint).not.toContain('krew');
  });
});

describe('latchkey kubeconfig --kubeconfig/--context', () => {
  let dir: string;
  let admin: string;
  const caPem = '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubeconfig-source-'));
    await writeFile(join(dir, 'staging-ca.pem'), caPem);
    admin = join(dir, 'admin.conf');
    // An admin's kubeconfig: one cluster with its CA inline, one with a CA file relative to the kubeconfig.
    await writeFile(
      admin,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'kind-prod',
            cluster: {
              server: 'https://127.0.0.1:40001',
              'certificate-authority-data': Buffer.from('PROD CA').toString('base64'),
              'tls-server-name': 'kubernetes.default',
            },
          },
          {
            name: 'staging',
            cluster: { server: 'https://staging:6443', 'certificate-authority': 'staging-ca.pem' },
          },
        ],
        users: [{ name: 'admin', user: { token: 'admin-secret-token' } }],
        contexts: [
          { name: 'prod', context: { cluster: 'kind-prod', user: 'admin' } },
          { name: 'stage', context: { cluster: 'staging', user: 'admin' } },
        ],
        'current-context': 'stage',
      }),
    );
  });

  it('takes each named context’s server and CA, never its credentials', async () => {
    const r = await runCli([
      'kubeconfig',
      '--issuer',
      'https://idp.example.com',
      '--client-id',
      'kubernetes',
      '--skip-check',
      '--kubeconfig',
      admin,
      '--context',
      'prod',
      '--context',
      'stage',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).not.toContain('admin-secret-token');
    const doc = parse(r.stdout) as Kubeconfig;
    expect(doc.clusters).toEqual([
      {
        name: 'prod',
        cluster: {
          server: 'https://127.0.0.1:40001',
          'certificate-authority-data': Buffer.from('PROD CA').toString('base64'),
          'tls-server-name': 'kubernetes.default',
        },
      },
      {
        name: 'stage',
        cluster: {
          server: 'https://staging:6443',
          'certificate-authority-data': Buffer.from(caPem).toString('base64'),
        },
      },
    ]);
    expect(doc.users.map((u) => u.name)).toEqual(['oidc']);
    expect(doc.contexts).toEqual([
      { name: 'prod', context: { cluster: 'prod', user: 'oidc' } },
      { name: 'stage', context: { cluster: 'stage', user: 'oidc' } },
    ]);
    expect(doc['current-context']).toBe('prod');
  });

  it('uses the current context of --kubeconfig alone, and $KUBECONFIG for --context alone', async () => {
    const alone = await runCli([
      'kubeconfig',
      '--issuer',
      'https://idp.example.com',
      '--client-id',
      'kubernetes',
      '--skip-check',
      '--kubeconfig',
      admin,
    ]);
    expect(alone.code).toBe(0);
    expect((parse(alone.stdout) as Kubeconfig).clusters?.map((c) => [c.name, c.cluster.server])).toEqual([
      ['stage', 'https://staging:6443'],
    ]);

    const fromEnv = await runCli(
      [
        'kubeconfig',
        '--issuer',
        'https://idp.example.com',
        '--client-id',
        'k',
        '--skip-check',
        '--context',
        'prod',
      ],
      { env: { KUBECONFIG: admin } },
    );
    expect(fromEnv.code).toBe(0);
    expect((parse(fromEnv.stdout) as Kubeconfig).clusters?.map((c) => c.cluster.server)).toEqual([
      'https://127.0.0.1:40001',
    ]);
  });

  it('names the contexts there are when asked for one that is not', async () => {
    const r = await runCli([
      'kubeconfig',
      '--issuer',
      'https://idp.example.com',
      '--client-id',
      'kubernetes',
      '--skip-check',
      '--kubeconfig',
      admin,
      '--context',
      'qa',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has no context "qa" (it has: prod, stage)');
  });
});

describe('latchkey kubeconfig -o', () => {
  const args = [
    'kubeconfig',
    '--issuer',
    'https://idp.example.com',
    '--client-id',
    'kubernetes',
    '--skip-check',
  ];

  it('writes the file readable by its owner only, and replaces it only with --force', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-out-'));
    const file = join(dir, 'config');
    const first = await runCli([...args, '-o', file]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((parse(await readFile(file, 'utf8')) as Kubeconfig).users[0]!.name).toBe('oidc');

    const again = await runCli([...args, '--user', 'other', '--output', file]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${file} exists; pass --force to replace it`);
    expect((parse(await readFile(file, 'utf8')) as Kubeconfig).users[0]!.name).toBe('oidc');

    await chmod(file, 0o644);
    const forced = await runCli([...args, '--user', 'other', '-o', file, '--force']);
    expect(forced.code).toBe(0);
    expect((parse(await readFile(file, 'utf8')) as Kubeconfig).users[0]!.name).toBe('other');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // Nothing left behind by the replacement.
    expect(await readdir(dir)).toEqual(['config']);
  });
});
