import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { stringify } from 'yaml';
import { REPO_ROOT, runCli, startServer, type ServerProcess } from '../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { TestBrowser } from '../helpers/browser.js';
import { browserLogin } from '../helpers/flows.js';
import { deploymentEnv, getAll, localConfig, objectsOf, ok, serviceAccountKubeconfig } from './helpers.js';

// The plain manifests against a real kube-apiserver: `kubectl apply -f manifests/` alone (no CRDs: the
// directory is not read recursively); the configuration Secret as shipped fails `serve --check` on its
// placeholders; with them replaced, Latchkey run with the manifests' service account creates the CRDs
// itself (the ClusterRole) and serves a login from the namespace (the Role), including a client whose secret
// it reads from a Secret by name while it may not list Secrets; then the documented
// `kubectl apply -f manifests/crds/ -f manifests/` on top.

const MANIFESTS = join(REPO_ROOT, 'manifests');
const CLIENT = { id: 'example-app', secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0' };
/** bcrypt hash of the string "password", what browserLogin types. */
const HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW';
const REDIRECT_URI = 'http://127.0.0.1:5555/callback';

describe('manifests/ with kubectl apply', () => {
  let cp: ControlPlane;
  let dir: string;
  beforeAll(async () => {
    cp = await startControlPlane();
    dir = await mkdtemp(join(tmpdir(), 'latchkey-manifests-test-'));
  }, 10 * 60_000);
  afterAll(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const topLevelText = async (): Promise<string> => {
    const files = (await readdir(MANIFESTS)).filter((f) => f.endsWith('.yaml')).sort();
    return (await Promise.all(files.map((f) => readFile(join(MANIFESTS, f), 'utf8')))).join('---\n');
  };

  it('kubectl apply -f manifests/ creates every object; the Service is NodePort 32000, telemetry apart', async () => {
    const applied = ok(await cp.kubectl(['apply', '-f', MANIFESTS]), 'kubectl apply -f manifests/');
    const wanted = objectsOf(await topLevelText());
    expect(applied.stdout.trim().split('\n')).toHaveLength(wanted.length);
    const objects = await getAll(cp, await topLevelText());
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      wanted.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    );
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'latchkey')!;
    expect(service.metadata.namespace).toBe('latchkey');
    // Only HTTPS reaches users: metrics and health are not on the NodePort.
    expect(service.spec).toMatchObject({
      type: 'NodePort',
      externalTrafficPolicy: 'Local',
      ports: [{ name: 'https', port: 5554, targetPort: 'https', nodePort: 32000 }],
    });
    const telemetry = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'latchkey-telemetry')!;
    expect(telemetry.spec).toMatchObject({
      type: 'ClusterIP',
      ports: [{ name: 'telemetry', port: 5558, targetPort: 'telemetry' }],
    });
    // The configuration is a Secret (client secrets, password hashes), mounted by the Deployment.
    expect(objects.map((o) => o.kind)).not.toContain('ConfigMap');
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    const volumes = (deployment.spec as { template: { spec: { volumes: Record<string, unknown>[] } } })
      .template.spec.volumes;
    expect(volumes).toContainEqual(
      expect.objectContaining({
        name: 'config',
        secret: expect.objectContaining({ secretName: 'latchkey-config' }),
      }),
    );
    // Not applied: manifests/crds/ is a subdirectory.
    const crds = await cp.kubectl(['get', 'crd', '-l', 'app.kubernetes.io/name=latchkey', '-o', 'name']);
    expect(crds.stdout.trim()).toBe('');
  });

  const configInCluster = async (): Promise<string> =>
    Buffer.from(
      ok(
        await cp.kubectl([
          '-n',
          'latchkey',
          'get',
          'secret',
          'latchkey-config',
          '-o',
          'jsonpath={.data.config\\.yaml}',
        ]),
        'kubectl get secret latchkey-config',
      ).stdout,
      'base64',
    ).toString('utf8');

  it('the configuration Secret as shipped fails serve --check on its placeholders, naming each', async () => {
    const file = join(dir, 'shipped-config.yaml');
    await writeFile(file, await configInCluster());
    const r = await runCli(['serve', '--check', file], {
      env: { GITHUB_CLIENT_ID: 'an-id', GITHUB_CLIENT_SECRET: 'a-secret' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('staticClients[0].secret: replace this placeholder');
    expect(r.stderr).toContain('staticPasswords[0].hash: replace this placeholder');
  });

  it('the RBAC suffices: with the placeholders replaced, run with the service account, Latchkey creates the CRDs and serves a login and a refresh, with a client secret read from a Secret by name', async () => {
    // What the operator does: put their own client secret and password hash in 20-config.yaml and apply it.
    const edited = (await readFile(join(MANIFESTS, '20-config.yaml'), 'utf8'))
      .replace('REPLACE-ME-with-a-random-client-secret', CLIENT.secret)
      .replace('REPLACE-ME-with-a-bcrypt-hash', HASH);
    ok(await cp.kubectl(['apply', '-f', '-'], { input: edited }), 'kubectl apply 20-config.yaml');
    const configYaml = await configInCluster();
    expect(configYaml).not.toMatch(/REPLACE-ME/);
    // The README's github-client Secret, which the Deployment passes to the GitHub connector's settings.
    ok(
      await cp.kubectl([
        '-n',
        'latchkey',
        'create',
        'secret',
        'generic',
        'github-client',
        '--from-literal=client-id=Iv1.0123456789abcdef',
        '--from-literal=client-secret=github-secret',
      ]),
      'kubectl create secret generic github-client',
    );
    const env = await deploymentEnv(cp, 'latchkey', 'latchkey');
    expect(env).toEqual({ GITHUB_CLIENT_ID: 'Iv1.0123456789abcdef', GITHUB_CLIENT_SECRET: 'github-secret' });
    const kubeconfig = await serviceAccountKubeconfig(cp, 'latchkey', 'latchkey', dir);
    const cfg = await localConfig(configYaml, kubeconfig, dir);
    let server: ServerProcess | undefined;
    try {
      server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`, { env });
      const rp = await oidc.discovery(new URL(cfg.issuer), CLIENT.id, CLIENT.secret, undefined, {
        execute: [oidc.allowInsecureRequests],
      });
      // The chooser offers the seed's GitHub connector, which sends the browser to github.com with the
      // client ID from the Secret and Latchkey's callback URL.
      const browser = new TestBrowser();
      const chooser = await browser.open(
        oidc
          .buildAuthorizationUrl(rp, {
            redirect_uri: 'http://127.0.0.1:5555/callback',
            scope: 'openid',
            code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
            code_challenge_method: 'S256',
          })
          .toString(),
      );
      const githubLink = chooser.$('a[href*="/auth/github?"]').attr('href');
      expect(githubLink).toBeDefined();
      const toGitHub = await browser.open(new URL(githubLink!, chooser.url).toString(), {
        stopAt: 'https://github.com/',
      });
      const authorize = new URL(toGitHub.url);
      expect(authorize.origin + authorize.pathname).toBe('https://github.com/login/oauth/authorize');
      expect(authorize.searchParams.get('client_id')).toBe('Iv1.0123456789abcdef');
      expect(authorize.searchParams.get('redirect_uri')).toBe(`${cfg.issuer}/callback`);
      // The seed's flow: browser login with the example app's redirect URI, approving the client (the
      // shipped skipApprovalScreen: false).
      const { callback, verifier, nonce, state } = await browserLogin(rp, {
        redirectURI: REDIRECT_URI,
        scope: 'openid email groups offline_access',
      });
      const tokens = await oidc.authorizationCodeGrant(rp, callback, {
        pkceCodeVerifier: verifier,
        expectedNonce: nonce,
        expectedState: state,
        idTokenExpected: true,
      });
      expect(tokens.claims()).toMatchObject({
        email: 'admin@example.com',
        groups: ['team-a', 'team-a/admins'],
      });
      const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
      expect(refreshed.refresh_token).toEqual(expect.any(String));
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

      // A client an operator adds with kubectl, its secret in a Secret: Latchkey reads that Secret by name
      // (the Role grants get only), and the code exchange authenticates with it.
      const fromSecret = { id: 'from-secret', secret: 'a-secret-kept-in-a-secret' };
      ok(
        await cp.kubectl(['apply', '-n', 'latchkey', '-f', '-'], {
          input: [
            {
              apiVersion: 'v1',
              kind: 'Secret',
              metadata: { name: 'from-secret-client' },
              stringData: { 'client-secret': fromSecret.secret },
            },
            {
              apiVersion: 'latchkey.dev/v1',
              kind: 'OAuth2Client',
              metadata: { name: 'from-secret' },
              spec: {
                id: fromSecret.id,
                name: 'From a Secret',
                secretRef: { name: 'from-secret-client', key: 'client-secret' },
                redirectURIs: [REDIRECT_URI],
              },
            },
          ]
            .map((o) => stringify(o))
            .join('---\n'),
        }),
        'kubectl apply client',
      );
      const rp2 = await oidc.discovery(new URL(cfg.issuer), fromSecret.id, fromSecret.secret, undefined, {
        execute: [oidc.allowInsecureRequests],
      });
      const login2 = await browserLogin(rp2, { redirectURI: REDIRECT_URI, scope: 'openid email' });
      const tokens2 = await oidc.authorizationCodeGrant(rp2, login2.callback, {
        pkceCodeVerifier: login2.verifier,
        expectedNonce: login2.nonce,
        expectedState: login2.state,
        idTokenExpected: true,
      });
      expect(tokens2.claims()).toMatchObject({ aud: fromSecret.id, email: 'admin@example.com' });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- server output ---\n${server?.output() ?? ''}`, {
        cause: e,
      });
    } finally {
      await server?.stop();
    }
    // The same identity may not enumerate the namespace's Secrets.
    const list = await cp.kubectl(['get', 'secrets', '-n', 'latchkey'], { kubeconfig });
    expect(list.code).not.toBe(0);
    expect(list.stderr).toMatch(/forbidden/i);
    // Created by Latchkey through the ClusterRole (create, and get of its own CRDs only): one CRD per file in
    // manifests/crds/.
    const crdFiles = (await readdir(join(MANIFESTS, 'crds'))).filter((f) => f.endsWith('.yaml'));
    const crds = ok(
      await cp.kubectl(['get', 'crd', '-l', 'app.kubernetes.io/name=latchkey', '-o', 'name']),
      'kubectl get crd',
    ).stdout;
    expect(crds.trim().split('\n')).toHaveLength(crdFiles.length);
    const stored = ok(
      await cp.kubectl(['-n', 'latchkey', 'get', 'refreshtokens.latchkey.dev', '-o', 'name']),
      'kubectl get refreshtokens',
    ).stdout;
    expect(stored).toMatch(/refreshtoken\.latchkey\.dev\//);
  }, 120_000);

  it('kubectl apply -f manifests/crds/ -f manifests/ (the documented install) applies cleanly on top', async () => {
    const r = ok(
      await cp.kubectl(['apply', '-f', join(MANIFESTS, 'crds'), '-f', MANIFESTS]),
      'kubectl apply -f manifests/crds/ -f manifests/',
    );
    const crdFiles = (await readdir(join(MANIFESTS, 'crds'))).filter((f) => f.endsWith('.yaml'));
    expect(r.stdout).toMatch(
      /customresourcedefinition\.apiextensions\.k8s\.io\/oauth2clients\.latchkey\.dev/,
    );
    expect(r.stdout.trim().split('\n')).toHaveLength(
      crdFiles.length + objectsOf(await topLevelText()).length,
    );
  });
});
