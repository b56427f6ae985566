import { rm } from 'node:fs/promises';
import * as oidc from 'openid-client';
import { stringify } from 'yaml';
import { encodeSubject } from '../../../src/tokens/subject.js';
import { TestBrowser, type Page } from '../../helpers/browser.js';
import { runCli, startServer, type ServerProcess } from '../../helpers/cli.js';
import { writeTestConfig, type TestServerConfig } from '../../helpers/config.js';
import { browserLogin } from '../../helpers/flows.js';
import { freePort } from '../../helpers/net.js';
import { SERVICE_DN, SERVICE_PW, USERS_DN, startSlapd, type Slapd } from '../../helpers/slapd.js';

// Latchkey itself (`latchkey serve`) with the LDAP connector against slapd, driven through its login pages
// the way a browser does, and a real relying party (openid-client) for codes and refreshes.

const REDIRECT_URI = 'http://127.0.0.1:5555/callback';
const SECRET = 'ZXhhbXBsZS1hcHAtc2VjcmV0';
const dn = (cn: string) => `cn=${cn},${USERS_DN}`;
const JANE_GROUPS = ['developers', 'engineering', 'loop-a', 'loop-b', 'staff'];
const PASSWORDS = ['jane-password', 'test-password', 'plain-password', "o'brien-password", 'a*b-password'];

describe('latchkey serve with an LDAP connector against slapd', () => {
  let slapd: Slapd;
  let cfg: TestServerConfig;
  let server: ServerProcess;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    slapd = await startSlapd();
    const ad = {
      host: slapd.ldapsHost,
      rootCA: slapd.caFile,
      bindDN: SERVICE_DN,
      bindPW: SERVICE_PW,
      usernamePrompt: 'Login name',
      userSearch: {
        baseDN: USERS_DN,
        filter: '(objectClass=person)',
        username: ['sAMAccountName', 'userPrincipalName', 'uid'],
        idAttr: 'DN',
        emailAttr: 'mail',
        nameAttr: 'cn',
      },
      groupSearch: {
        baseDN: USERS_DN,
        filter: '(objectClass=group)',
        userMatchers: [{ userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'member' }],
        nameAttr: 'cn',
      },
    };
    cfg = await writeTestConfig({
      extra: stringify({
        connectors: [
          { type: 'ldap', id: 'ldap', name: 'Active Directory', config: ad },
          {
            type: 'ldap',
            id: 'ldap-down',
            name: 'Directory that is down',
            config: { ...ad, host: `127.0.0.1:${await freePort()}`, insecureNoSSL: true, rootCA: undefined },
          },
          {
            type: 'ldap',
            id: 'ldap-untrusted',
            name: 'Directory with an untrusted certificate',
            config: { ...ad, rootCA: undefined },
          },
          {
            type: 'mockPassword',
            id: 'mock',
            name: 'Mock',
            config: { username: 'kilgore', password: 'trout' },
          },
        ],
        oauth2: { skipApprovalScreen: true },
      }),
    });
    server = await startServer(cfg.file, `http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);
    rp = await oidc.discovery(new URL(cfg.issuer), 'example-app', SECRET, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  });
  afterAll(async () => {
    await server?.stop();
    await slapd?.stop();
    if (cfg) await rm(cfg.dir, { recursive: true, force: true });
  });

  async function login(username: string, password: string, scope = 'openid email profile groups') {
    const { callback, verifier, nonce, state } = await browserLogin(rp, {
      redirectURI: REDIRECT_URI,
      scope,
      connector: 'ldap',
      username,
      password,
    });
    return oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: true,
    });
  }

  /** Submits the password form of `connector` and returns the page that answers. */
  async function attempt(connector: string, username: string, password: string): Promise<Page> {
    const browser = new TestBrowser();
    const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st' });
    let page = await browser.open(url.toString(), { stopAt: REDIRECT_URI });
    const link = page.$(`a[href*="/auth/${connector}?"]`).attr('href');
    expect(link).toBeDefined();
    page = await browser.open(new URL(link!, page.url).toString(), { stopAt: REDIRECT_URI });
    expect(page.$('label[for=login]').text().trim()).toBe('Login name');
    return browser.submit(page, { login: username, password }, { stopAt: REDIRECT_URI });
  }

  it.each([
    [
      'a plain user by uid',
      'plain',
      'plain-password',
      `uid=plain,${USERS_DN}`,
      'plain@example.com',
      'Plain Person',
    ],
    ['an AD user by sAMAccountName', 'jane', 'jane-password', dn('Jane Doe'), 'jane@example.com', 'Jane Doe'],
    [
      'an AD user by userPrincipalName',
      'test@example.com',
      'test-password',
      dn('Test User'),
      'test@example.com',
      'Test User',
    ],
    ["o'brien", "o'brien", "o'brien-password", dn("O'Brien"), 'obrien@example.com', "O'Brien"],
    ['a*b', 'a*b@example.com', 'a*b-password', dn('a*b'), 'astarb@example.com', 'a*b'],
    ['x(y)', 'x(y)', 'x(y)-password', dn('x(y)'), 'xy@example.com', 'x(y)'],
    [
      'back\\slash',
      'back\\slash',
      'back\\slash-password',
      dn('back\\5Cslash'),
      'backslash@example.com',
      'back\\slash',
    ],
  ])('logs %s in through the password form', async (_who, username, password, userDN, email, name) => {
    const tokens = await login(username, password);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: cfg.issuer,
      aud: 'example-app',
      sub: encodeSubject(userDN, 'ldap'),
      email,
      email_verified: true,
      name,
    });
    expect(claims.groups).toEqual(expect.arrayContaining(['developers', 'engineering', 'staff']));
  });

  it('puts nested group memberships in the groups claim', async () => {
    const claims = (await login('jane@example.com', 'jane-password')).claims()!;
    expect([...(claims.groups as string[])].sort()).toEqual(JANE_GROUPS);
  });

  it('answers a wrong password, an empty password, an unknown user, an injection and a disabled account alike', async () => {
    const failures = await Promise.all(
      [
        ['jane', 'wrong-password'],
        ['jane', ''],
        ['nobody', 'jane-password'],
        ['*)(uid=*', 'jane-password'],
        ['*', 'jane-password'],
        ['dan', 'dan-password'],
      ].map(([u, p]) => attempt('ldap', u!, p!)),
    );
    for (const page of failures) {
      expect(page.status).toBe(401);
      expect(page.$('#login-error').text().trim()).toBe('Invalid Login name or password.');
    }
  });

  it('yields the new groups on refresh after a group change, and invalid_grant once the user is deleted', async () => {
    const tokens = await login('a*b', 'a*b-password', 'openid email groups offline_access');
    expect(tokens.claims()!.groups).not.toContain('on-call');
    await slapd.modify(`dn: cn=on-call,${USERS_DN}\nchangetype: modify\nadd: member\nmember: ${dn('a*b')}\n`);
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({
      sub: encodeSubject(dn('a*b'), 'ldap'),
      email: 'astarb@example.com',
    });
    expect(refreshed.claims()!.groups).toContain('on-call');

    await slapd.delete(dn('a*b'));
    await expect(oidc.refreshTokenGrant(rp, refreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('shows a clear error page when the directory is down, while the rest keeps working', async () => {
    const page = await attempt('ldap-down', 'jane', 'jane-password');
    expect(page.status).toBe(502);
    expect(page.html).toContain('The directory server cannot be reached.');

    const ready = await fetch(`http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);
    expect(ready.status).toBe(200);
    const { callback } = await browserLogin(rp, {
      redirectURI: REDIRECT_URI,
      scope: 'openid',
      connector: 'mock',
      username: 'kilgore',
      password: 'trout',
    });
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect((await login('jane', 'jane-password')).claims()!.email).toBe('jane@example.com');
  });

  it('says the directory cannot be reached securely when its certificate is not trusted, and logs why', async () => {
    const page = await attempt('ldap-untrusted', 'jane', 'jane-password');
    expect(page.status).toBe(502);
    expect(page.html).toContain('The directory server cannot be reached securely.');
    expect(server.output()).toMatch(/the directory's certificate is not trusted — set rootCA or rootCAData/);
  });

  it('never logs the service account password or a user password', () => {
    const out = server.output();
    expect(out).toContain('ldap login refused');
    for (const secret of [SERVICE_PW, ...PASSWORDS, 'wrong-password']) expect(out).not.toContain(secret);
  });
});

describe('latchkey serve with a broken LDAP connector config', () => {
  it('refuses to start, naming the key path', async () => {
    const cfg = await writeTestConfig({
      extra: stringify({
        connectors: [
          {
            type: 'ldap',
            id: 'ad',
            name: 'AD',
            config: {
              host: 'ad.example.com',
              userSearch: { baseDN: USERS_DN, username: 'sAMAccountName', scope: 'base' },
            },
          },
        ],
      }),
    });
    const r = await runCli(['serve', cfg.file]);
    await rm(cfg.dir, { recursive: true, force: true });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(
      'connectors[ad].config.userSearch.scope: expected \\"sub\\" or \\"one\\", got \\"base\\"',
    );
  });
});
