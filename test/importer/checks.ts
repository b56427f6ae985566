import { createRemoteJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { parseConfig } from '../../src/config/load.js';
import type { ImportDexOptions } from '../../src/importer/import-dex.js';
import { settingsFromConfig } from '../../src/importer/import-dex.js';
import { basicAuth, postForm } from '../helpers/flows.js';
import {
  ALICE,
  DASHBOARD,
  KILGORE,
  KUBECTL,
  currentToken,
  signAsDex,
  wireOf,
  type DexInstallation,
} from '../helpers/dex-fixtures.js';
import { waitFor } from '../helpers/wait.js';

// What "users switch without logging in again" means, checked against a running Latchkey after an import:
// the acceptance items of issue 18, shared by the suites of every source and back end.

/** Latchkey's config for these suites (besides issuer, storage, web, logger). */
export const LATCHKEY_EXTRA = `enablePasswordDB: true
oauth2:
  passwordConnector: local
  skipApprovalScreen: true`;

/** The import settings a config gives (what the CLI derives from --config), for in-process imports. */
export function importSettings(
  extraYaml: string,
): Pick<ImportDexOptions, 'idTokenLifetimeMs' | 'refreshPolicy' | 'signer'> {
  const { config } = parseConfig(
    `issuer: http://127.0.0.1/dex\nstorage:\n  type: memory\nweb:\n  http: 127.0.0.1:0\n${extraYaml}`,
    {},
  );
  return settingsFromConfig(config);
}

async function relyingParty(issuer: string, clientID: string, secret: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), clientID, secret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
}

/**
 * Dex-issued refresh tokens, presented as their clients hold them, refresh at Latchkey: an ID token with
 * Dex's `sub`, email and groups (verified by openid-client against Latchkey's JWKS), and a rotated refresh
 * token that works in turn. Tokens Dex itself would refuse are refused.
 */
export async function expectDexRefreshTokensWork(issuer: string, inst: DexInstallation): Promise<void> {
  const rp = await relyingParty(issuer, KUBECTL.id, KUBECTL.secret);

  const alice = await oidc.refreshTokenGrant(
    rp,
    wireOf(currentToken(inst, ALICE.userID, 'local', KUBECTL.id)),
  );
  expect(alice.claims()).toMatchObject({
    iss: issuer,
    aud: KUBECTL.id,
    sub: ALICE.sub,
    email: ALICE.email,
    email_verified: true,
    groups: ALICE.groups,
  });
  expect(alice.refresh_token).toBeDefined();
  const again = await oidc.refreshTokenGrant(rp, alice.refresh_token!);
  expect(again.claims()!.sub).toBe(ALICE.sub);

  const kilgore = await oidc.refreshTokenGrant(
    rp,
    wireOf(currentToken(inst, KILGORE.userID, 'mock', KUBECTL.id)),
  );
  expect(kilgore.claims()).toMatchObject({ sub: KILGORE.sub, email: KILGORE.email, groups: KILGORE.groups });

  // The dashboard's current token, with the dashboard's Dex secret.
  const dashboard = await oidc.refreshTokenGrant(
    await relyingParty(issuer, DASHBOARD.id, DASHBOARD.secret),
    wireOf(currentToken(inst, ALICE.userID, 'local', DASHBOARD.id)),
  );
  expect(dashboard.claims()).toMatchObject({ aud: DASHBOARD.id, sub: ALICE.sub, groups: ALICE.groups });

  // The dashboard's token that Dex replaced, the one without a secret, the one without an offline session.
  const refused = inst.refreshTokens.filter(
    (t) =>
      t.id !== currentToken(inst, ALICE.userID, 'local', KUBECTL.id).id &&
      t.id !== currentToken(inst, KILGORE.userID, 'mock', KUBECTL.id).id &&
      t.id !== currentToken(inst, ALICE.userID, 'local', DASHBOARD.id).id &&
      !t.claims.userID.startsWith('bulk-'),
  );
  expect(refused).toHaveLength(3);
  for (const t of refused) {
    const secret = t.clientID === KUBECTL.id ? KUBECTL.secret : DASHBOARD.secret;
    const res = await postForm(
      `${issuer}/token`,
      { grant_type: 'refresh_token', refresh_token: wireOf(t) },
      basicAuth(t.clientID, secret),
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  }
}

/**
 * Latchkey's JWKS publishes Dex's current and still-valid verification keys (by Dex's kid), not the expired
 * one, and an ID token Dex signed verifies against it.
 */
export async function expectDexKeysPublished(issuer: string, inst: DexInstallation): Promise<void> {
  const jwks = (await (await fetch(`${issuer}/keys`)).json()) as JSONWebKeySet;
  const kids = jwks.keys.map((k) => k.kid);
  expect(kids).toEqual(expect.arrayContaining([inst.kids.current, inst.kids.verification]));
  expect(kids).not.toContain(inst.kids.expired);
  for (const k of jwks.keys) expect(k).not.toHaveProperty('d');

  const keys = createRemoteJWKSet(new URL(`${issuer}/keys`));
  for (const kid of [inst.kids.current, inst.kids.verification]) {
    const token = await signAsDex(inst, kid, {
      iss: issuer,
      sub: ALICE.sub,
      aud: KUBECTL.id,
      email: ALICE.email,
    });
    const { payload, protectedHeader } = await jwtVerify(token, keys, { issuer, audience: KUBECTL.id });
    expect(protectedHeader.kid).toBe(kid);
    expect(payload.sub).toBe(ALICE.sub);
  }
  const stale = await signAsDex(inst, inst.kids.expired, { iss: issuer, sub: ALICE.sub, aud: KUBECTL.id });
  await expect(jwtVerify(stale, keys, { issuer })).rejects.toThrow();
}

/** Waits until a running Latchkey has re-read its key set and publishes Dex's current key. */
export async function waitForDexKey(issuer: string, inst: DexInstallation): Promise<void> {
  await waitFor(
    async () => {
      const jwks = (await (await fetch(`${issuer}/keys`)).json()) as JSONWebKeySet;
      return jwks.keys.some((k) => k.kid === inst.kids.current);
    },
    { what: "Latchkey to publish Dex's signing key" },
  );
}

/** An imported client authenticates with its Dex secret, and an imported password logs in (password grant). */
export async function expectClientAndPasswordLogIn(issuer: string): Promise<void> {
  const rp = await relyingParty(issuer, KUBECTL.id, KUBECTL.secret);
  const tokens = await oidc.genericGrantRequest(rp, 'password', {
    username: ALICE.email,
    password: ALICE.password,
    scope: 'openid email groups',
  });
  expect(tokens.claims()).toMatchObject({ sub: ALICE.sub, email: ALICE.email, groups: ALICE.groups });

  const wrongSecret = await postForm(
    `${issuer}/token`,
    { grant_type: 'password', username: ALICE.email, password: ALICE.password, scope: 'openid' },
    basicAuth(KUBECTL.id, 'not-the-secret'),
  );
  expect(wrongSecret.status).toBe(401);
  const wrongPassword = await postForm(
    `${issuer}/token`,
    { grant_type: 'password', username: ALICE.email, password: 'wrong', scope: 'openid' },
    basicAuth(KUBECTL.id, KUBECTL.secret),
  );
  expect(wrongPassword.status).toBe(400);
  expect(wrongPassword.body.error).toBe('invalid_grant');
}

/** Text that must never appear in the importer's output. */
export function expectNoSecrets(output: string, secrets: string[]): void {
  const leaked = secrets.filter((s) => output.includes(s));
  expect(leaked).toEqual([]);
}
