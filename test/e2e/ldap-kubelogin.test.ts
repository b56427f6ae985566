import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSubject } from '../../src/tokens/subject.js';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { exampleConfig, type TestServerConfig } from '../helpers/config.js';
import { USERS_DN, startSlapd, type Slapd } from '../helpers/slapd.js';

// The seed's "Integration kubelogin and Active Directory" (§5), end to end: `latchkey serve
// examples/config-ad-kubelogin.yaml` over HTTPS with issuer path /dex, its AD connector pointed at slapd's
// LDAPS port (trusting slapd's CA), the password grant through the LDAP connector, and a kubeconfig user
// written by `kubectl config set-credentials` in the seed's form — whose exec arguments are handed to the real
// kubelogin, which must come back with an ID token carrying the user's groups.

interface Exec {
  apiVersion: string;
  command: string;
  args: string[];
}

function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const peersDir = (): Promise<string> =>
  run(join(REPO_ROOT, 'scripts/build-test-peers.sh'), ['--print-dir'], process.env).then((r) =>
    r.stdout.trim(),
  );

const payload = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('seed §5: kubelogin and Active Directory (slapd), Latchkey over HTTPS', () => {
  let slapd: Slapd;
  let cfg: TestServerConfig;
  let server: ServerProcess;
  let dir: string;
  let issuer: string;
  let peers: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    peers = await peersDir();
    slapd = await startSlapd();
    dir = await mkdtemp(join(tmpdir(), 'latchkey-ad-kubelogin-'));
    const tls = join(dir, 'tls');
    const gencert = await run(
      join(REPO_ROOT, 'scripts/gencert.sh'),
      ['--ip', '127.0.0.1', '--out', tls],
      process.env,
    );
    expect(gencert.code).toBe(0);
    cfg = await exampleConfig('examples/config-ad-kubelogin.yaml', (doc) => {
      const web = doc.web as Record<string, unknown>;
      doc.issuer = String(doc.issuer).replace(/^http:/, 'https:');
      doc.web = { https: web.http, tlsCert: join(tls, 'cert.pem'), tlsKey: join(tls, 'key.pem') };
      const ldap = (doc.connectors as { id: string; config: Record<string, unknown> }[])[0]!;
      expect(ldap.id).toBe('ldap');
      // "Modify following host, bindDN and bindPW": the fixture directory has the example's bind account.
      ldap.config.host = slapd.ldapsHost;
      ldap.config.insecureSkipVerify = false;
      ldap.config.rootCA = slapd.caFile;
      (doc.oauth2 as Record<string, unknown>).passwordConnector = 'ldap';
    });
    issuer = cfg.issuer.replace(/^http:/, 'https:');
    expect(issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/dex$/);
    server = await startServer(cfg.file, `http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);
    env = {
      ...process.env,
      PATH: `${peers}:${process.env.PATH ?? ''}`,
      HOME: dir,
      KUBECONFIG: join(dir, 'kubeconfig'),
    };
  });
  afterAll(async () => {
    await server?.stop();
    await slapd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (cfg) await rm(cfg.dir, { recursive: true, force: true });
  });

  /** `kubectl config set-credentials oidc …` exactly as the seed writes it, plus the password-grant flags. */
  async function kubeconfigUser(username: string, password: string): Promise<Exec> {
    const caData = (await readFile(join(dir, 'tls', 'ca.pem'))).toString('base64');
    const set = await run(
      'kubectl',
      [
        'config',
        'set-credentials',
        'oidc',
        '--exec-api-version=client.authentication.k8s.io/v1beta1',
        '--exec-command=kubectl',
        '--exec-arg=oidc-login',
        '--exec-arg=get-token',
        `--exec-arg=--oidc-issuer-url=${issuer}`,
        '--exec-arg=--oidc-client-id=kubernetes',
        '--exec-arg=--oidc-client-secret=ZXhhbXBsZS1hcHAtc2VjcmV0',
        '--exec-arg=--oidc-extra-scope=profile',
        '--exec-arg=--oidc-extra-scope=email',
        '--exec-arg=--oidc-extra-scope=groups',
        `--exec-arg=--certificate-authority-data=${caData}`,
        '--exec-arg=--grant-type=password',
        `--exec-arg=--username=${username}`,
        `--exec-arg=--password=${password}`,
        '--exec-arg=--token-cache-storage=none',
      ],
      env,
    );
    expect(set).toMatchObject({ code: 0 });
    const view = await run('kubectl', ['config', 'view', '--raw', '-o', 'json'], env);
    const users = (JSON.parse(view.stdout) as { users: { name: string; user: { exec: Exec } }[] }).users;
    return users.find((u) => u.name === 'oidc')!.user.exec;
  }

  /** What kubectl would run for the exec plugin, with `kubectl oidc-login` as the kubelogin binary. */
  async function getToken(exec: Exec) {
    expect(exec.command).toBe('kubectl');
    expect(exec.args.slice(0, 2)).toEqual(['oidc-login', 'get-token']);
    return run(join(peers, 'kubelogin'), exec.args.slice(1), env);
  }

  it('returns an ExecCredential whose token is an ID token with the AD user’s groups', async () => {
    const exec = await kubeconfigUser('test@example.com', 'test-password');
    expect(exec.apiVersion).toBe('client.authentication.k8s.io/v1beta1');
    const result = await getToken(exec);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const credential = JSON.parse(result.stdout) as {
      kind: string;
      apiVersion: string;
      status: { token: string; expirationTimestamp: string };
    };
    expect(credential).toMatchObject({
      kind: 'ExecCredential',
      apiVersion: 'client.authentication.k8s.io/v1beta1',
    });
    const claims = payload(credential.status.token);
    expect(claims).toMatchObject({
      iss: issuer,
      aud: 'kubernetes',
      sub: encodeSubject(`cn=Test User,${USERS_DN}`, 'ldap'),
      email: 'test@example.com',
      email_verified: true,
      name: 'Test User',
    });
    // Direct groups and, through recursionGroupAttr, the groups containing them.
    expect([...(claims.groups as string[])].sort()).toEqual([
      'developers',
      'engineering',
      'kube-admins',
      'staff',
    ]);
    expect(new Date(credential.status.expirationTimestamp).getTime()).toBe((claims.exp as number) * 1000);
  });

  it('fails without a token for a wrong password', async () => {
    const result = await getToken(await kubeconfigUser('test@example.com', 'not-the-password'));
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/invalid_grant/);
  });
});
