import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { TestBrowser } from '../helpers/browser.js';
import { browserLogin } from '../helpers/flows.js';
import { deploymentEnv, getAll, localConfig, objectsOf, ok, serviceAccountKubeconfig } from './helpers.js';

// The plain manifests against a real kube-apiserver: `kubectl apply -f manifests/` alone (no CRDs: the
// directory is not read recursively), then Latchkey run with the manifests' service account and ConfigMap
// creates the CRDs itself (the ClusterRole) and serves a login from the namespace (the Role); then the
// documented `kubectl apply -f manifests/crds/ -f manifests/` on top.

const MANIFESTS = join(REPO_ROOT, 'manifests');
const CLIENT = { id: 'example-app', secret: 'ZXhhbXBsZS1hcHAtc2VjcmV0' };

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

  it('kubectl apply -f manifests/ creates every object; the Service is NodePort 32000', async () => {
    const applied = ok(await cp.kubectl(['apply', '-f', MANIFESTS]), 'kubectl apply -f manifests/');
    const wanted = objectsOf(await topLevelText());
    expect(applied.stdout.trim().split('\n')).toHaveLength(wanted.length);
    const objects = await getAll(cp, await topLevelText());
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      wanted.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    );
    const service = objects.find((o) => o.kind === 'Service')!;
    expect(service.metadata.namespace).toBe('latchkey');
    expect(service.spec).toMatchObject({
      type: 'NodePort',
      externalTrafficPolicy: 'Local',
      ports: [{ name: 'https', port: 5554, targetPort: 'https', nodePort: 32000 }],
    });
    // Not applied: manifests/crds/ is a subdirectory.
    const crds = await cp.kubectl(['get', 'crd', '-l', 'app.kubernetes.io/name=latchkey', '-o', 'name']);
    expect(crds.stdout.trim()).toBe('');
  });

  it('the RBAC suffices: run with the service account and the ConfigMap, Latchkey creates the CRDs and serves a login and a refresh', async () => {
    const configYaml = ok(
      await cp.kubectl([
        '-n',
        'latchkey',
        'get',
        'configmap',
        'latchkey',
        '-o',
        'jsonpath={.data.config\\.yaml}',
      ]),
      'kubectl get configmap',
    ).stdout;
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
      // The seed's flow: browser login with the example app's redirect URI (skipApprovalScreen: true).
      const { callback, verifier, nonce, state } = await browserLogin(rp, {
        redirectURI: 'http://127.0.0.1:5555/callback',
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
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- server output ---\n${server?.output() ?? ''}`, {
        cause: e,
      });
    } finally {
      await server?.stop();
    }
    // Created by Latchkey through the ClusterRole: one CRD per file in manifests/crds/.
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
