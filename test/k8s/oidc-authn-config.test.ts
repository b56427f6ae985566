import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  ALICE,
  BOB,
  OTHER_CLIENT,
  apiserverLog,
  asToken,
  claimsOf,
  expectUnauthorized,
  forgeToken,
  gencert,
  httpsRequest,
  latchkeyConfig,
  passwordToken,
  readmeAuthenticationConfiguration,
  readmeBlock,
  startLatchkey,
  waitForAuthenticator,
  waitUntilPast,
  whoami,
  type Latchkey,
  type TLSFiles,
} from '../helpers/kube-oidc.js';
import { waitFor } from '../helpers/wait.js';

const ROTATION_PERIOD_S = 8;

// The same, with kube-apiserver's structured authentication config (--authentication-config; the two modes
// cannot share one API server): the README's AuthenticationConfiguration with claim mappings, plus a second
// issuer whose signing keys rotate every 8 s, to show that key rotation costs the API server nothing.
describe('kube-apiserver AuthenticationConfiguration', () => {
  let dir: string;
  let tls: TLSFiles;
  let cp: ControlPlane;
  let latchkey: Latchkey;
  let shortLived: Latchkey;
  let rotating: Latchkey;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-oidc-authn-'));
    tls = await gencert();
    latchkey = await startLatchkey(await latchkeyConfig({ tls, dir }));
    shortLived = await startLatchkey(
      await latchkeyConfig({
        tls,
        dir,
        issuer: latchkey.issuer,
        storageFile: latchkey.storageFile,
        idTokens: '5s',
      }),
    );
    rotating = await startLatchkey(
      await latchkeyConfig({ tls, dir, keysRotationPeriod: `${ROTATION_PERIOD_S}s` }),
    );
    const authn = await readmeAuthenticationConfiguration(latchkey.issuer, tls.caPem);
    const second = structuredClone(authn.jwt[0]!);
    second.issuer.url = rotating.issuer;
    second.claimMappings.username!.prefix = 'rotating:';
    second.claimMappings.groups!.prefix = 'rotating:';
    authn.jwt.push(second);
    const file = join(dir, 'authentication-config.yaml');
    await writeFile(file, stringify(authn));
    cp = await startControlPlane({ extraApiserverArgs: [`--authentication-config=${file}`] });
  }, 10 * 60_000);

  afterAll(async () => {
    await cp?.stop();
    await rotating?.stop();
    await shortLived?.stop();
    await latchkey?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (tls) await rm(tls.dir, { recursive: true, force: true });
  });

  it('maps the claims: username from email, groups, uid from sub, each with its prefix', async () => {
    const user = await waitForAuthenticator(cp, () => passwordToken(latchkey, ALICE));
    expect(user).toMatchObject({
      username: 'oidc:alice@example.com',
      groups: ['oidc:devs', 'system:authenticated'],
    });
    const token = await passwordToken(latchkey, ALICE);
    expect((await whoami(cp, token)).user?.uid).toBe(claimsOf(token).sub);
  }, 90_000);

  it("lets RBAC act on the group: the README's binding for oidc:devs allows alice, bob is forbidden", async () => {
    const applied = await cp.kubectl(['apply', '-f', '-'], {
      input: await readmeBlock('kind: ClusterRoleBinding'),
    });
    expect(applied.code).toBe(0);
    const alice = await passwordToken(latchkey, ALICE);
    const allowed = await waitFor(
      async () => {
        const r = await asToken(cp, alice, ['get', 'namespaces', '-o', 'name']);
        return r.code === 0 && r;
      },
      { what: 'alice to list namespaces', timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(allowed.stdout.split('\n')).toEqual(expect.arrayContaining(['namespace/default']));
    const denied = await asToken(cp, await passwordToken(latchkey, BOB), ['get', 'namespaces']);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('User "oidc:bob@example.com" cannot list resource "namespaces"');
  }, 60_000);

  it('rejects a token for another client ID, an expired token and tokens signed by unpublished keys', async () => {
    const valid = await passwordToken(shortLived, ALICE);
    expect((await whoami(cp, valid)).user?.username).toBe('oidc:alice@example.com');
    const expiring = await passwordToken(shortLived, ALICE);

    expectUnauthorized(await whoami(cp, await passwordToken(latchkey, ALICE, OTHER_CLIENT)));
    const genuine = await passwordToken(latchkey, ALICE);
    const { sub } = claimsOf(genuine);
    expectUnauthorized(await whoami(cp, await forgeToken(latchkey.issuer, ALICE, { alg: 'RS256', sub })));
    const kid = decodeProtectedHeader(genuine).kid!;
    expectUnauthorized(
      await whoami(cp, await forgeToken(latchkey.issuer, ALICE, { alg: 'RS256', kid, sub })),
    );

    await waitUntilPast(claimsOf(expiring).exp);
    expectUnauthorized(await whoami(cp, expiring));
  }, 60_000);

  it('accepts every token through signing-key rotations: the next key is published before it signs', async () => {
    const jwks = async () => {
      const r = await httpsRequest(`${rotating.base}/keys`, { ca: tls.caPem });
      return (JSON.parse(r.body) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    };
    await waitForAuthenticator(cp, () => passwordToken(rotating, ALICE));
    const published = new Set(await jwks());
    const kids: string[] = [];
    const start = Date.now();
    // Mint and use a fresh token continuously for more than two periods (or until the signing key has
    // changed twice): every single one must be accepted — no 401 gap at a rotation.
    while (Date.now() - start < 4 * ROTATION_PERIOD_S * 1000) {
      const token = await passwordToken(rotating, ALICE);
      const kid = decodeProtectedHeader(token).kid!;
      // Latchkey served this key in its JWKS before signing with it.
      if (kids.at(-1) !== kid) expect(published.has(kid)).toBe(true);
      const r = await whoami(cp, token);
      if (r.code !== 0) {
        throw new Error(
          `token ${kids.length + 1} (kid ${kid}, ${Date.now() - start} ms in) refused: ${r.stderr}\n` +
            (await apiserverLog(cp)),
        );
      }
      expect(r.user?.username).toBe('rotating:alice@example.com');
      kids.push(kid);
      for (const k of await jwks()) published.add(k);
      const changes = kids.filter((k, i) => i > 0 && k !== kids[i - 1]).length;
      if (changes >= 2 && Date.now() - start > 2 * ROTATION_PERIOD_S * 1000) break;
    }
    const changes = kids.filter((k, i) => i > 0 && k !== kids[i - 1]).length;
    expect(changes).toBeGreaterThanOrEqual(1);
    expect(new Set(kids).size).toBe(changes + 1);
    const keys = await httpsRequest(`${rotating.base}/keys`, { ca: tls.caPem });
    expect(keys.headers['cache-control']).toBe(`max-age=${ROTATION_PERIOD_S / 2}, must-revalidate`);
  }, 90_000);
});
