import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Identity } from '../../src/connectors/connector.js';
import type { PendingAuthRequest } from '../../src/oauth/authorize.js';
import { newBrowserValue } from '../../src/oauth/browser-binding.js';
import { AuthCodes } from '../../src/oauth/codes.js';
import { digest } from '../../src/oauth/digest.js';
import { OAuthError } from '../../src/oauth/errors.js';
import type { LoginOutcome } from '../../src/oauth/login.js';
import { approvalTag, claimsOf, LoginAlreadyFinishedError, LoginCompletion } from '../../src/oauth/login.js';
import { OOB_REDIRECT_URI } from '../../src/oauth/redirect-uri.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite.js';
import type { AuthRequest } from '../../src/storage/storage.js';
import { ManualClock } from '../../src/util/clock.js';
import { randomIds } from '../../src/util/ids.js';

const T0 = new Date('2030-07-08T09:10:11.012Z');
const ISSUER = 'https://id.example.com';
const ISS = 'iss=https%3A%2F%2Fid.example.com';
const CODE_LIFETIME = 60_000;
const REQUEST_LIFETIME = 24 * 60 * 60_000;
const REDIRECT = 'https://app.example.com/callback';

const pending = (over: Partial<PendingAuthRequest> = {}): PendingAuthRequest => ({
  clientID: 'app',
  redirectURI: REDIRECT,
  responseType: 'code',
  scopes: ['openid', 'email', 'offline_access'],
  state: 'st-1',
  nonce: 'n-1',
  pkce: { codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', codeChallengeMethod: 'S256' },
  prompt: [],
  forceApproval: false,
  ...over,
});

const identity: Identity = {
  userID: 'u-1',
  username: 'Jane Doe',
  preferredUsername: 'jane',
  email: 'jane@example.com',
  emailVerified: true,
  groups: ['admins', 'devs'],
  connectorData: Uint8Array.from([1, 2, 3]),
};

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let file: string;
let storage: SqliteStorage;
let clock: ManualClock;
let codes: AuthCodes;
let browser: string;
beforeEach(() => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-login-'));
  dirs.push(dir);
  file = join(dir, 'latchkey.db');
  storage = SqliteStorage.open(file);
  clock = new ManualClock(T0);
  codes = new AuthCodes(storage, CODE_LIFETIME, clock, randomIds);
  browser = newBrowserValue();
});
afterEach(() => storage.close());

const logins = (skipApprovalScreen: boolean) =>
  new LoginCompletion(
    storage,
    codes,
    { issuer: ISSUER, skipApprovalScreen, authRequestLifetimeMs: REQUEST_LIFETIME },
    clock,
    randomIds,
  );

/** Rows in a table, read through a connection of its own. */
function count(table: 'auth_codes' | 'auth_requests'): number {
  const raw = new DatabaseSync(file, { readOnly: true });
  try {
    return (raw.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    raw.close();
  }
}

function codeFrom(outcome: LoginOutcome, state = 'st-1'): string {
  if (outcome.kind !== 'redirect') throw new Error(`expected a redirect, got ${outcome.kind}`);
  const url = new URL(outcome.location);
  expect(`${url.origin}${url.pathname}`).toBe(REDIRECT);
  expect([...url.searchParams.keys()]).toEqual(state ? ['code', 'state', 'iss'] : ['code', 'iss']);
  expect(url.searchParams.get('state')).toBe(state || null);
  expect(url.searchParams.get('iss')).toBe(ISSUER);
  return url.searchParams.get('code')!;
}

async function approvalOf(over: Partial<PendingAuthRequest> = {}) {
  const outcome = await logins(false).complete(pending(over), 'ldap', identity, browser);
  if (outcome.kind !== 'approval') throw new Error(`expected approval, got ${outcome.kind}`);
  return outcome;
}

describe('completing a login', () => {
  it('with skipApprovalScreen issues the code at once and stores no AuthRequest', async () => {
    const outcome = await logins(true).complete(pending(), 'ldap', identity, browser);
    const code = codeFrom(outcome);
    expect(count('auth_requests')).toBe(0);
    expect(count('auth_codes')).toBe(1);
    expect(await codes.redeem(code)).toEqual({
      id: digest(code),
      clientID: 'app',
      scopes: ['openid', 'email', 'offline_access'],
      redirectURI: REDIRECT,
      nonce: 'n-1',
      claims: claimsOf(identity),
      connectorID: 'ldap',
      connectorData: Uint8Array.from([1, 2, 3]),
      expiry: new Date(T0.getTime() + CODE_LIFETIME),
      pkce: pending().pkce,
      authTime: T0,
    });
  });

  it('with skipApprovalScreen and no state leaves state out of the redirect', async () => {
    codeFrom(await logins(true).complete(pending({ state: '' }), 'ldap', identity, browser), '');
  });

  it('with skipApprovalScreen shows an out-of-band client its code', async () => {
    const outcome = await logins(true).complete(
      pending({ redirectURI: OOB_REDIRECT_URI }),
      'ldap',
      identity,
      browser,
    );
    expect(outcome).toEqual({ kind: 'oob', code: expect.stringMatching(/^[a-z][a-z2-7]{24}$/) });
    expect(count('auth_codes')).toBe(1);
    expect(count('auth_requests')).toBe(0);
  });

  it.each([
    ['without skipApprovalScreen', false, false],
    ['with skipApprovalScreen when approval is forced', true, true],
  ])('%s stores exactly one AuthRequest and no code', async (_name, skip, force) => {
    const outcome = await logins(skip).complete(pending({ forceApproval: force }), 'ldap', identity, browser);
    expect(outcome).toEqual({
      kind: 'approval',
      authRequestID: expect.stringMatching(/^[a-z][a-z2-7]{24}$/),
      tag: expect.any(String),
    });
    if (outcome.kind !== 'approval') return;
    expect(count('auth_requests')).toBe(1);
    expect(count('auth_codes')).toBe(0);
    const stored = await storage.getAuthRequest(outcome.authRequestID);
    const expected: AuthRequest = {
      id: outcome.authRequestID,
      clientID: 'app',
      responseTypes: ['code'],
      scopes: ['openid', 'email', 'offline_access'],
      redirectURI: REDIRECT,
      nonce: 'n-1',
      state: 'st-1',
      forceApprovalPrompt: force,
      loggedIn: true,
      claims: claimsOf(identity),
      connectorID: 'ldap',
      connectorData: Uint8Array.from([1, 2, 3]),
      expiry: new Date(T0.getTime() + REQUEST_LIFETIME),
      pkce: pending().pkce,
      hmacKey: expect.stringMatching(/^[a-z][a-z2-7]{50}$/),
      authTime: T0,
    };
    expect(stored).toEqual(expected);
    expect(outcome.tag).toBe(approvalTag(browser, stored));
  });
});

describe('the approval step', () => {
  it('finds the request for the browser that logged in', async () => {
    const { authRequestID, tag } = await approvalOf();
    const request = await logins(false).pendingApproval(authRequestID, browser, tag);
    expect(request).toEqual(await storage.getAuthRequest(authRequestID));
  });

  it('refuses another browser, even one that holds the link', async () => {
    const { authRequestID, tag } = await approvalOf();
    const other = newBrowserValue();
    const l = logins(false);
    expect(await l.pendingApproval(authRequestID, other, tag)).toBeUndefined();
    expect(await l.pendingApproval(authRequestID, undefined, tag)).toBeUndefined();
    expect(await l.pendingApproval(authRequestID, 'short', tag)).toBeUndefined();
  });

  it('refuses a wrong or missing tag', async () => {
    const { authRequestID, tag } = await approvalOf();
    const l = logins(false);
    expect(await l.pendingApproval(authRequestID, browser, undefined)).toBeUndefined();
    expect(await l.pendingApproval(authRequestID, browser, '')).toBeUndefined();
    expect(await l.pendingApproval(authRequestID, browser, [tag])).toBeUndefined();
    // Change the last character to another one (it is "A" one time in sixteen).
    const tampered = `${tag.slice(0, -1)}${tag.endsWith('A') ? 'E' : 'A'}`;
    expect(tampered).not.toBe(tag);
    expect(await l.pendingApproval(authRequestID, browser, tampered)).toBeUndefined();
  });

  it('refuses a wrong id, and does not accept one request’s tag for another', async () => {
    const first = await approvalOf();
    const second = await approvalOf();
    const l = logins(false);
    expect(await l.pendingApproval(second.authRequestID, browser, first.tag)).toBeUndefined();
    expect(await l.pendingApproval(randomIds.newID(), browser, first.tag)).toBeUndefined();
    expect(await l.pendingApproval('not-an-id', browser, first.tag)).toBeUndefined();
    expect(await l.pendingApproval('', browser, first.tag)).toBeUndefined();
  });

  it('refuses an expired request', async () => {
    const { authRequestID, tag } = await approvalOf();
    const l = logins(false);
    clock.advance(REQUEST_LIFETIME);
    expect(await l.pendingApproval(authRequestID, browser, tag)).toBeDefined();
    clock.advance(1);
    expect(await l.pendingApproval(authRequestID, browser, tag)).toBeUndefined();
  });

  it('approve replaces the AuthRequest with exactly one code', async () => {
    const { authRequestID, tag } = await approvalOf();
    const l = logins(false);
    const request = (await l.pendingApproval(authRequestID, browser, tag))!;
    clock.advance(5000);
    const code = codeFrom(await l.approve(request));
    expect(count('auth_requests')).toBe(0);
    expect(count('auth_codes')).toBe(1);
    expect(await l.pendingApproval(authRequestID, browser, tag)).toBeUndefined();
    expect(await codes.redeem(code)).toEqual({
      id: digest(code),
      clientID: 'app',
      scopes: ['openid', 'email', 'offline_access'],
      redirectURI: REDIRECT,
      nonce: 'n-1',
      claims: claimsOf(identity),
      connectorID: 'ldap',
      connectorData: Uint8Array.from([1, 2, 3]),
      expiry: new Date(T0.getTime() + 5000 + CODE_LIFETIME),
      pkce: pending().pkce,
      // The user authenticated at login, not at approval.
      authTime: T0,
    });
  });

  it('approve is single-use: of two concurrent approvals exactly one gets a code', async () => {
    const { authRequestID, tag } = await approvalOf();
    // Two replicas (or two requests racing past the same replica's cache) that both read the request.
    const [a, b] = [logins(false), logins(false)];
    const requests = await Promise.all([
      a.pendingApproval(authRequestID, browser, tag),
      b.pendingApproval(authRequestID, browser, tag),
    ]);
    const results = await Promise.allSettled([a.approve(requests[0]!), b.approve(requests[1]!)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = results.find((r) => r.status === 'rejected')!;
    expect(lost.reason).toBeInstanceOf(LoginAlreadyFinishedError);
    expect(count('auth_codes')).toBe(1);
    expect(count('auth_requests')).toBe(0);
    // Declining after the approval is refused the same way: the login is finished.
    await expect(a.reject(requests[0]!)).rejects.toBeInstanceOf(LoginAlreadyFinishedError);
  });

  it('approve for an out-of-band client shows the code', async () => {
    const { authRequestID, tag } = await approvalOf({ redirectURI: OOB_REDIRECT_URI });
    const l = logins(false);
    const outcome = await l.approve((await l.pendingApproval(authRequestID, browser, tag))!);
    expect(outcome).toEqual({ kind: 'oob', code: expect.stringMatching(/^[a-z][a-z2-7]{24}$/) });
    expect(count('auth_requests')).toBe(0);
    expect(count('auth_codes')).toBe(1);
  });

  it('reject redirects with access_denied, state and iss, and issues nothing', async () => {
    const { authRequestID, tag } = await approvalOf();
    const l = logins(false);
    const outcome = await l.reject((await l.pendingApproval(authRequestID, browser, tag))!);
    expect(outcome).toEqual({
      kind: 'redirect',
      location: `${REDIRECT}?error=access_denied&error_description=The+user+declined+the+request.&state=st-1&${ISS}`,
    });
    expect(count('auth_requests')).toBe(0);
    expect(count('auth_codes')).toBe(0);
  });

  it('reject for an out-of-band client is an access_denied error (there is no redirect)', async () => {
    const { authRequestID, tag } = await approvalOf({ redirectURI: OOB_REDIRECT_URI });
    const l = logins(false);
    const request = (await l.pendingApproval(authRequestID, browser, tag))!;
    const refused = l.reject(request);
    await expect(refused).rejects.toEqual(new OAuthError('access_denied', 'Approval rejected.'));
    await expect(refused).rejects.toMatchObject({ error: 'access_denied', status: 403 });
    expect(count('auth_requests')).toBe(0);
    expect(count('auth_codes')).toBe(0);
  });
});
