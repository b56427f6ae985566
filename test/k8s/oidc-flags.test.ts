import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { freePort } from '../helpers/net.js';
import {
  ALICE,
  BOB,
  OTHER_CLIENT,
  asToken,
  claimsOf,
  expectUnauthorized,
  forgeToken,
  gencert,
  httpsRequest,
  latchkeyConfig,
  passwordToken,
  readmeApiserverFlags,
  readmeBlock,
  startLatchkey,
  waitForAuthenticator,
  waitUntilPast,
  whoami,
  type Latchkey,
  type LatchkeyConfig,
  type TLSFiles,
} from '../helpers/kube-oidc.js';
import { waitFor } from '../helpers/wait.js';
import { startUpstreamOidc, type UpstreamOidc } from '../helpers/upstream-oidc.js';

// Seed §2 "Kubernetes Authentication Through Dex", for real: kube-apiserver started with the --oidc-* flags
// (the README's, ES256 signing) trusts Latchkey's ID tokens over HTTPS with a gencert.sh CA, and RBAC acts
// on the groups. The API server starts first, pointing at a Latchkey that is not running yet, as the seed
// allows ("Dex doesn't need to be running when you start your API server").
describe('kube-apiserver --oidc-* flags', () => {
  let dir: string;
  let tls: TLSFiles;
  let cp: ControlPlane;
  let latchkey: Latchkey;
  /** An upstream OpenID provider whose tokens Latchkey's `upstream` connector exchanges (RFC 8693). */
  let upstream: UpstreamOidc;
  /** A second process for the same issuer and signing keys (same SQLite file), with 5 s ID tokens. */
  let shortLived: Latchkey;
  let flags: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-oidc-flags-'));
    tls = await gencert();
    upstream = await startUpstreamOidc({ clients: [] });
    const cfg: LatchkeyConfig = await latchkeyConfig({
      tls,
      dir,
      port: await freePort(),
      algorithm: 'ES256',
      connectors: [
        {
          type: 'oidc',
          id: 'upstream',
          name: 'Upstream',
          config: { issuer: upstream.issuer, audiences: ['latchkey'], insecureEnableGroups: true },
        },
      ],
    });
    flags = await readmeApiserverFlags(cfg.issuer, tls.ca);
    cp = await startControlPlane({ extraApiserverArgs: flags });
    latchkey = await startLatchkey(cfg);
    shortLived = await startLatchkey(
      await latchkeyConfig({
        tls,
        dir,
        issuer: cfg.issuer,
        storageFile: cfg.storageFile,
        algorithm: 'ES256',
        idTokens: '5s',
      }),
    );
  }, 10 * 60_000);

  afterAll(async () => {
    await shortLived?.stop();
    await latchkey?.stop();
    await upstream?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (tls) await rm(tls.dir, { recursive: true, force: true });
  });

  it('takes a password-grant ID token as a bearer token: the email is the username, with the groups', async () => {
    expect(flags).toEqual([
      `--oidc-issuer-url=${latchkey.issuer}`,
      '--oidc-client-id=kubernetes',
      `--oidc-ca-file=${tls.ca}`,
      '--oidc-username-claim=email',
      '--oidc-username-prefix=oidc:',
      '--oidc-groups-claim=groups',
      '--oidc-groups-prefix=oidc:',
      '--oidc-signing-algs=ES256',
    ]);
    // The authenticator found no issuer at its start: it retries every 10 s.
    const user = await waitForAuthenticator(cp, () => passwordToken(latchkey, ALICE));
    expect(user.username).toBe('oidc:alice@example.com');
    expect(user.groups).toEqual(['oidc:devs', 'system:authenticated']);

    const token = await passwordToken(latchkey, ALICE);
    expect(decodeProtectedHeader(token).alg).toBe('ES256');
    const again = await whoami(cp, token);
    expect(again.user).toMatchObject({ username: 'oidc:alice@example.com' });
    // Latchkey's jti is visible as the credential ID.
    expect(again.user?.extra?.['authentication.kubernetes.io/credential-id']).toEqual([
      `JTI=${claimsOf(token).jti as string}`,
    ]);
  }, 90_000);

  it("lets RBAC act on the group: the README's binding for oidc:devs allows alice, bob is forbidden", async () => {
    const applied = await cp.kubectl(['apply', '-f', '-'], {
      input: await readmeBlock('kind: ClusterRoleBinding'),
    });
    expect(applied.code).toBe(0);
    const alice = await passwordToken(latchkey, ALICE);
    // The RBAC informer picks the binding up shortly after it is created.
    const allowed = await waitFor(
      async () => {
        const r = await asToken(cp, alice, ['get', 'namespaces', '-o', 'name']);
        return r.code === 0 && r;
      },
      { what: 'alice to list namespaces', timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(allowed.stdout.split('\n')).toEqual(expect.arrayContaining(['namespace/default']));

    const bob = await passwordToken(latchkey, BOB);
    expect((await whoami(cp, bob)).user).toMatchObject({
      username: 'oidc:bob@example.com',
      groups: ['oidc:testers', 'system:authenticated'],
    });
    const denied = await asToken(cp, bob, ['get', 'namespaces']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('Forbidden');
    expect(denied.stderr).toContain('User "oidc:bob@example.com" cannot list resource "namespaces"');
  }, 60_000);

  it('takes a token from the token exchange of an upstream ID token: the upstream email and groups', async () => {
    const now = Math.floor(Date.now() / 1000);
    const subjectToken = await upstream.sign({
      sub: 'carol-upstream-id',
      aud: 'latchkey',
      iat: now,
      exp: now + 300,
      name: 'Carol',
      email: 'carol@example.com',
      email_verified: true,
      groups: ['devs'],
    });
    const r = await httpsRequest(`${latchkey.base}/token`, {
      ca: tls.caPem,
      form: {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        client_id: 'kubernetes',
        connector_id: 'upstream',
        scope: 'openid email groups',
        requested_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        subject_token: subjectToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      },
    });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as { access_token: string; issued_token_type: string };
    expect(body.issued_token_type).toBe('urn:ietf:params:oauth:token-type:id_token');
    expect(claimsOf(body.access_token)).toMatchObject({ iss: latchkey.issuer, aud: 'kubernetes' });
    expect((await whoami(cp, body.access_token)).user).toMatchObject({
      username: 'oidc:carol@example.com',
      groups: ['oidc:devs', 'system:authenticated'],
    });
  });

  it('rejects a token for another client ID', async () => {
    const token = await passwordToken(latchkey, ALICE, OTHER_CLIENT);
    expect(claimsOf(token)).toMatchObject({ iss: latchkey.issuer, aud: OTHER_CLIENT.id });
    expectUnauthorized(await whoami(cp, token));
  });

  it('rejects an expired token (5 s ID tokens), after taking one of the same kind while it was valid', async () => {
    // Same issuer, same keys: accepted while valid.
    const valid = await passwordToken(shortLived, ALICE);
    expect((await whoami(cp, valid)).user?.username).toBe('oidc:alice@example.com');
    // Another token (the API server caches successful authentications), presented once expired.
    const expiring = await passwordToken(shortLived, ALICE);
    const claims = claimsOf(expiring);
    expect(claims.iss).toBe(latchkey.issuer);
    expect(claims.exp - (claims.iat as number)).toBe(5);
    await waitUntilPast(claims.exp);
    expectUnauthorized(await whoami(cp, expiring));
  });

  it('rejects tokens signed by a key Latchkey never published', async () => {
    const genuine = await passwordToken(latchkey, ALICE);
    const sub = claimsOf(genuine).sub;
    // A new kid: the API server looks it up in Latchkey's JWKS and does not find it.
    expectUnauthorized(await whoami(cp, await forgeToken(latchkey.issuer, ALICE, { alg: 'ES256', sub })));
    // Latchkey's own kid on a foreign signature.
    const kid = decodeProtectedHeader(genuine).kid!;
    expectUnauthorized(
      await whoami(cp, await forgeToken(latchkey.issuer, ALICE, { alg: 'ES256', kid, sub })),
    );
    // The genuine one still works.
    expect((await whoami(cp, genuine)).code).toBe(0);
  });
});
