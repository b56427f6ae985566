import { rm } from 'node:fs/promises';
import { parse } from 'yaml';
import { runCli, startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { gencert, type TLSFiles } from '../helpers/kube-oidc.js';
import { freePort } from '../helpers/net.js';

// `latchkey kubeconfig` asks a real `latchkey serve` (HTTPS, its own CA) whether the issuer answers and
// knows the client, before it prints anything.
describe('latchkey kubeconfig checks the issuer and the client', () => {
  let tls: TLSFiles;
  let cfg: TestServerConfig;
  let server: ServerProcess;

  beforeAll(async () => {
    tls = await gencert();
    cfg = await writeTestConfig({
      tls: { certFile: tls.cert, keyFile: tls.key },
      noStaticClient: true,
      extra: [
        'staticClients:',
        '- id: kubernetes',
        '  name: Kubernetes',
        '  public: true',
        '  redirectURIs: [http://localhost:8000, http://localhost:18000]',
        '- id: dashboard',
        '  name: Dashboard',
        '  secret: ZGFzaGJvYXJkLXNlY3JldA',
        '  redirectURIs: [https://dashboard.example.com/callback]',
      ].join('\n'),
    });
    server = await startServer(cfg.file, `http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    if (cfg) await rm(cfg.dir, { recursive: true, force: true });
    if (tls) await rm(tls.dir, { recursive: true, force: true });
  });

  const kubeconfig = (...args: string[]) => runCli(['kubeconfig', '--ca-file', tls.ca, ...args]);

  it('prints the kubeconfig when the issuer answers and knows the client', async () => {
    const r = await kubeconfig('--issuer', cfg.issuer, '--client-id', 'kubernetes');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `latchkey kubeconfig: checked: ${cfg.issuer} answers and knows client "kubernetes"\n`,
    );
    expect((parse(r.stdout) as { kind: string }).kind).toBe('Config');
  });

  it('refuses a client the issuer does not know, printing nothing', async () => {
    const r = await kubeconfig(
      '--issuer',
      cfg.issuer,
      '--client-id',
      'kubernetes',
      '--cluster',
      'a=https://a:6443',
      '--cluster-client-id',
      'a=kubernets',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the issuer does not know client "kubernets"');
    expect(r.stdout).toBe('');
  });

  it('warns when the client would refuse kubelogin’s browser login, not for the password grant', async () => {
    const browser = await kubeconfig('--issuer', cfg.issuer, '--client-id', 'dashboard');
    expect(browser.code).toBe(0);
    expect(browser.stderr).toContain(
      'warning: client "dashboard" does not accept kubelogin\'s redirect URI http://localhost:8000',
    );
    const password = await kubeconfig(
      '--issuer',
      cfg.issuer,
      '--client-id',
      'dashboard',
      '--grant-type',
      'password',
    );
    expect(password.code).toBe(0);
    expect(password.stderr).not.toContain('warning');
  });

  it('refuses an issuer URL that is not exactly the issuer’s own', async () => {
    const r = await kubeconfig('--issuer', `${cfg.issuer}/`, '--client-id', 'kubernetes');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the issuer calls itself "${cfg.issuer}", not "${cfg.issuer}/"`);
    expect(r.stdout).toBe('');
  });

  it('trusts the issuer’s certificate only with its CA (--ca-file or --certificate-authority)', async () => {
    const without = await runCli(['kubeconfig', '--issuer', cfg.issuer, '--client-id', 'kubernetes']);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/cannot fetch discovery .*certificate/);
    const kubeloginName = await runCli([
      'kubeconfig',
      '--oidc-issuer-url',
      cfg.issuer,
      '--oidc-client-id',
      'kubernetes',
      '--certificate-authority',
      tls.ca,
    ]);
    expect(kubeloginName.code).toBe(0);
  });

  it('says when the issuer does not answer, and --skip-check prints the kubeconfig anyway', async () => {
    const down = `https://127.0.0.1:${await freePort()}/dex`;
    const r = await kubeconfig('--issuer', down, '--client-id', 'kubernetes');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot fetch discovery ${down}/.well-known/openid-configuration: `);
    expect(r.stderr).toContain('--skip-check');
    const skipped = await kubeconfig('--issuer', down, '--client-id', 'kubernetes', '--skip-check');
    expect(skipped).toMatchObject({ code: 0, stderr: '' });
  });
});
