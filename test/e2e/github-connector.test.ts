import * as oidc from 'openid-client';
import { encodeSubject } from '../../src/tokens/subject.js';
import { TestBrowser, type Page } from '../helpers/browser.js';
import { startGitHubStandin, type GitHubStandin } from '../helpers/github-standin.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';

// Whole logins through Latchkey with `type: github` connectors: openid-client as the relying party, a
// browser following Latchkey → GitHub (the stand-in, as a GitHub Enterprise host with its own CA, since
// github.com cannot be reached here) → Latchkey's /callback → the client. Refresh goes through Latchkey's
// token endpoint, which asks the connector to re-read the user at GitHub.

const REDIRECT_URI = 'http://127.0.0.1:5555/callback';
const APP = { clientID: 'latchkey-gh-app', clientSecret: 'gh-app-secret' };

const NOT_MEMBER = 'Your GitHub account is not a member of the organizations or teams this login requires.';
const UNAVAILABLE = 'GitHub could not be reached or answered unexpectedly; please try again later.';

/** The connectors of one Latchkey, all against one stand-in (as an Enterprise host, trusted via rootCA). */
function config(gh: GitHubStandin): string {
  const connector = (id: string, name: string, extra: string) =>
    [
      `- type: github`,
      `  id: ${id}`,
      `  name: ${name}`,
      `  config:`,
      `    clientID: ${APP.clientID}`,
      `    clientSecret: ${APP.clientSecret}`,
      `    hostName: ${gh.host}`,
      `    rootCA: ${gh.caFile}`,
      ...extra
        .trim()
        .split('\n')
        .map((l) => `    ${l}`),
    ].join('\n');
  return [
    'oauth2:',
    '  skipApprovalScreen: true',
    'staticClients:',
    '- id: app',
    '  name: App',
    '  secret: app-secret',
    `  redirectURIs: [${REDIRECT_URI}]`,
    'connectors:',
    connector(
      'github',
      'GitHub',
      `
orgs:
- name: acme
  teams: [Red Team, Site Reliability]
- name: globex`,
    ),
    connector('github-slug', 'GitHub slugs', 'teamNameField: slug\norgs: [{name: acme}]'),
    connector('github-both', 'GitHub both', 'teamNameField: both\norgs: [{name: acme}]'),
    connector('github-legacy', 'GitHub legacy', 'org: acme\nteamNameField: slug'),
    connector('github-all', 'GitHub all', 'loadAllGroups: true\nteamNameField: slug'),
    connector(
      'github-login',
      'GitHub login IDs',
      "useLoginAsID: true\npreferredEmailDomain: '*.corp.example'",
    ),
  ].join('\n');
}

function resetUsers(gh: GitHubStandin): void {
  gh.users.clear();
  gh.addUser({
    id: 583231,
    login: 'octocat',
    name: 'The Octocat',
    email: null,
    emails: [
      { email: 'octocat@home.example', primary: true, verified: true },
      { email: 'octocat@eu.corp.example', primary: false, verified: true },
    ],
    orgs: ['acme', 'globex'],
    teams: [
      { org: 'acme', name: 'Red Team', slug: 'red-team' },
      { org: 'acme', name: 'Blue Team', slug: 'blue-team' },
      { org: 'globex', name: 'Admins', slug: 'admins' },
    ],
  });
  gh.addUser({
    id: 9919,
    login: 'outsider',
    name: 'Out Sider',
    email: 'outsider@example.org',
    orgs: ['initech'],
    teams: [{ org: 'initech', name: 'Everyone', slug: 'everyone' }],
  });
  gh.loginAs = 'octocat';
}

interface Login {
  tokens?: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  /** The page Latchkey showed instead of sending the browser back to the client. */
  page?: Page;
}

/** A Latchkey + stand-in pair with a relying party, and the browser journey through them. */
function harness() {
  const h = {} as { gh: GitHubStandin; server: InProcessServer; rp: oidc.Configuration };

  async function start(): Promise<void> {
    h.gh = await startGitHubStandin({ apps: [APP] });
    h.server = await startInProcess(config(h.gh));
    // The OAuth app's registered callback is Latchkey's: the stand-in checks redirect_uri against it.
    h.gh.apps.get(APP.clientID)!.callbackURL = `${h.server.issuer}/callback`;
    h.rp = await oidc.discovery(new URL(h.server.issuer), 'app', 'app-secret', undefined, {
      execute: [oidc.allowInsecureRequests],
    });
  }

  async function stop(): Promise<void> {
    await h.server?.close();
    await h.gh?.stop();
  }

  /**
   * Latchkey's /auth with connector_id → the stand-in's authorize page (signing in as gh.loginAs) →
   * Latchkey's /callback → the client's redirect URI, where the code is redeemed. `beforeCallback` runs
   * while the browser is at GitHub (to take GitHub down in between).
   */
  async function login(
    connector: string,
    scope: string,
    opts: { beforeCallback?: () => Promise<void> } = {},
  ): Promise<Login> {
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(h.rp, {
      redirect_uri: REDIRECT_URI,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
      connector_id: connector,
    });
    const browser = new TestBrowser();
    const atGitHub = await browser.open(url.toString(), { stopAt: h.gh.webURL });
    expect(atGitHub.url.startsWith(`${h.gh.webURL}/login/oauth/authorize?`)).toBe(true);
    const back = await h.gh.visit(atGitHub.url);
    expect(back.startsWith(`${h.server.issuer}/callback?`)).toBe(true);
    await opts.beforeCallback?.();
    const page = await browser.open(back, { stopAt: REDIRECT_URI });
    if (!page.url.startsWith(REDIRECT_URI)) return { page };
    const tokens = await oidc.authorizationCodeGrant(h.rp, new URL(page.url), {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: true,
    });
    return { tokens };
  }

  return { h, start, stop, login };
}

/** The error page's message, as the user reads it. */
const pageMessage = (page: Page): string => page.$('body').text().replace(/\s+/g, ' ');

/**
 * The OAuth error of a refused token request. openid-client parses the body of a 400/401 (`error`); a 503
 * (temporarily_unavailable) it hands over as the Response in `cause`, whose body is read here.
 */
async function rejection(p: Promise<unknown>): Promise<{ error: unknown; status?: number }> {
  try {
    await p;
  } catch (e) {
    const { error, cause } = e as { error?: unknown; cause?: unknown };
    if (error !== undefined) return { error };
    if (cause instanceof Response) {
      const body = (await cause.json()) as { error?: unknown };
      return { error: body.error, status: cause.status };
    }
    throw e;
  }
  throw new Error('expected the request to be refused');
}

describe('GitHub logins through Latchkey (GitHub stand-in as an Enterprise host)', () => {
  const { h, start, stop, login } = harness();
  beforeAll(start);
  afterAll(stop);
  beforeEach(() => {
    resetUsers(h.gh);
    h.gh.outage = undefined;
    h.gh.pageSize = undefined;
  });

  it('puts the org and org:team groups, the name and the verified email into the ID token', async () => {
    const { tokens, page } = await login('github', 'openid profile email groups');
    expect(page).toBeUndefined();
    expect(tokens!.claims()).toMatchObject({
      iss: h.server.issuer,
      aud: 'app',
      sub: encodeSubject('583231', 'github'),
      name: 'The Octocat',
      preferred_username: 'octocat',
      email: 'octocat@home.example',
      email_verified: true,
      // acme through its listed team (Blue Team is not listed), globex as a whole org with all its teams.
      groups: ['acme', 'acme:Red Team', 'globex', 'globex:Admins'],
    });
    // GitHub was asked for the scopes Dex asks for, with PKCE.
    expect(Object.fromEntries(h.gh.authorizations.at(-1)!)).toMatchObject({
      client_id: APP.clientID,
      redirect_uri: `${h.server.issuer}/callback`,
      scope: 'user:email read:org',
      code_challenge_method: 'S256',
    });
  });

  it.each<[string, string[]]>([
    ['github-slug', ['acme', 'acme:red-team', 'acme:blue-team']],
    ['github-both', ['acme', 'acme:Red Team', 'acme:red-team', 'acme:Blue Team', 'acme:blue-team']],
  ])('%s names teams as configured by teamNameField', async (connector, groups) => {
    const { tokens } = await login(connector, 'openid groups');
    expect(tokens!.claims()!.groups).toEqual(groups);
  });

  it('useLoginAsID puts the login into sub; preferredEmailDomain picks the work address', async () => {
    const byLogin = (await login('github-login', 'openid email')).tokens!.claims()!;
    expect(byLogin.sub).toBe(encodeSubject('octocat', 'github-login'));
    expect(byLogin.email).toBe('octocat@eu.corp.example');
    const byID = (await login('github', 'openid email')).tokens!.claims()!;
    expect(byID.sub).toBe(encodeSubject('583231', 'github'));
    expect(byID.email).toBe('octocat@home.example');
  });

  it('refuses a user outside the configured orgs with a page naming the connector', async () => {
    h.gh.loginAs = 'outsider';
    const { page, tokens } = await login('github', 'openid groups');
    expect(tokens).toBeUndefined();
    expect(page!.status).toBe(502);
    expect(pageMessage(page!)).toContain(`Login through GitHub failed. ${NOT_MEMBER}`);
  });

  it('refuses a member of the org who is in none of its listed teams', async () => {
    const octocat = h.gh.users.get('octocat')!;
    octocat.orgs = ['acme'];
    octocat.teams = [{ org: 'acme', name: 'Blue Team', slug: 'blue-team' }];
    const { page } = await login('github', 'openid groups');
    expect(page!.status).toBe(502);
    expect(pageMessage(page!)).toContain(`Login through GitHub failed. ${NOT_MEMBER}`);
  });

  it('legacy org: team names of that org for members; others refused', async () => {
    const { tokens } = await login('github-legacy', 'openid groups');
    expect(tokens!.claims()!.groups).toEqual(['red-team', 'blue-team']);
    h.gh.loginAs = 'outsider';
    const { page } = await login('github-legacy', 'openid groups');
    expect(pageMessage(page!)).toContain(`Login through GitHub legacy failed. ${NOT_MEMBER}`);
  });

  it('loadAllGroups: every org and org:team, across several pages', async () => {
    const octocat = h.gh.users.get('octocat')!;
    octocat.orgs = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
    octocat.teams.push(
      { org: 'hooli', name: 'Nucleus', slug: 'nucleus' },
      { org: 'hooli', name: 'Moonshot', slug: 'moonshot' },
    );
    h.gh.pageSize = 2;
    const { tokens } = await login('github-all', 'openid groups');
    expect(tokens!.claims()!.groups).toEqual([
      'acme',
      'acme:red-team',
      'acme:blue-team',
      'globex',
      'globex:admins',
      'initech',
      'umbrella',
      'hooli',
      'hooli:nucleus',
      'hooli:moonshot',
    ]);
    const pages = h.gh.apiCalls.filter((c) => c.path.startsWith('/user/orgs')).slice(-3);
    expect(pages.map((c) => c.path)).toEqual([
      '/user/orgs?per_page=100',
      '/user/orgs?per_page=100&page=2',
      '/user/orgs?per_page=100&page=3',
    ]);
  });

  it('a refresh re-reads teams: a team change upstream shows in the refreshed ID token', async () => {
    const { tokens } = await login('github', 'openid groups offline_access');
    expect(tokens!.claims()!.groups).toEqual(['acme', 'acme:Red Team', 'globex', 'globex:Admins']);
    const octocat = h.gh.users.get('octocat')!;
    octocat.teams = [
      { org: 'acme', name: 'Site Reliability', slug: 'site-reliability' },
      { org: 'acme', name: 'Red Team', slug: 'red-team' },
    ];
    const refreshed = await oidc.refreshTokenGrant(h.rp, tokens!.refresh_token!);
    expect(refreshed.claims()).toMatchObject({
      sub: encodeSubject('583231', 'github'),
      groups: ['acme', 'acme:Site Reliability', 'acme:Red Team', 'globex'],
    });
    // The GitHub token lives only inside Latchkey's stored refresh token: never in a log line.
    const logs = JSON.stringify(h.server.logs());
    for (const token of h.gh.tokensOf('octocat')) expect(logs).not.toContain(token);
  });

  it('a user removed from the org: the refresh answers invalid_grant and the login is over', async () => {
    const { tokens } = await login('github', 'openid groups offline_access');
    h.gh.users.get('octocat')!.orgs = ['initech'];
    const e = await rejection(oidc.refreshTokenGrant(h.rp, tokens!.refresh_token!));
    expect(e.error).toBe('invalid_grant');
    // Revoked, not merely refused: back in the org, the same refresh token still does not work.
    h.gh.users.get('octocat')!.orgs = ['acme', 'globex'];
    expect((await rejection(oidc.refreshTokenGrant(h.rp, tokens!.refresh_token!))).error).toBe(
      'invalid_grant',
    );
  });

  it('a revoked GitHub token: the refresh answers invalid_grant', async () => {
    const { tokens } = await login('github-all', 'openid groups offline_access');
    h.gh.revokeTokensOf('octocat');
    expect((await rejection(oidc.refreshTokenGrant(h.rp, tokens!.refresh_token!))).error).toBe(
      'invalid_grant',
    );
  });

  it('GitHub answering 500: a page naming the connector at login; refresh says try later, keeps the login', async () => {
    const { tokens } = await login('github', 'openid groups offline_access');
    h.gh.outage = 500;
    const { page } = await login('github', 'openid groups');
    expect(page!.status).toBe(502);
    expect(pageMessage(page!)).toContain(`Login through GitHub failed. ${UNAVAILABLE}`);

    expect(await rejection(oidc.refreshTokenGrant(h.rp, tokens!.refresh_token!))).toEqual({
      error: 'temporarily_unavailable',
      status: 503,
    });
    h.gh.outage = undefined;
    const refreshed = await oidc.refreshTokenGrant(h.rp, tokens!.refresh_token!);
    expect(refreshed.claims()!.sub).toBe(encodeSubject('583231', 'github'));
  });
});

describe('GitHub unreachable (the stand-in stopped mid-login)', () => {
  const { h, start, stop, login } = harness();
  beforeAll(start);
  afterAll(stop);

  it('shows a page naming the connector, and a refresh answers temporarily_unavailable', async () => {
    resetUsers(h.gh);
    const { tokens } = await login('github-slug', 'openid groups offline_access');
    expect(tokens!.claims()!.groups).toEqual(['acme', 'acme:red-team', 'acme:blue-team']);

    const { page } = await login('github-slug', 'openid groups', { beforeCallback: () => h.gh.stop() });
    expect(page!.status).toBe(502);
    expect(pageMessage(page!)).toContain(`Login through GitHub slugs failed. ${UNAVAILABLE}`);

    expect(await rejection(oidc.refreshTokenGrant(h.rp, tokens!.refresh_token!))).toEqual({
      error: 'temporarily_unavailable',
      status: 503,
    });
  });
});
