import { ConnectorError, RefreshDeniedError, type Identity } from '../../../src/connectors/connector.js';
import type { GitHubConnector } from '../../../src/connectors/github/github.js';
import { httpClientFactory, type HttpClientFactory } from '../../../src/connectors/http.js';
import { openConnector } from '../../../src/connectors/registry.js';
import { MemoryStorage } from '../../../src/storage/memory/memory.js';
import { ManualClock } from '../../../src/util/clock.js';
import { startGitHubStandin, type GitHubStandin } from '../../helpers/github-standin.js';
import { freePort } from '../../helpers/net.js';
import { decode, offline, RecordingLogger } from '../helpers.js';

// The github connector against the GitHub stand-in (github.com cannot be reached here), driven directly:
// beginLogin → the browser's visit to the authorize page → handleCallback, and refresh with the stored
// GitHub token. Whole logins through Latchkey are in test/e2e/github-connector.test.ts.

const CALLBACK = 'http://127.0.0.1:5556/dex/callback';
const APP = { clientID: 'latchkey-app', clientSecret: 'app-secret' };
const groupsOnly = { offlineAccess: false, groups: true };
const noGroups = { offlineAccess: false, groups: false };

const NOT_MEMBER = 'Your GitHub account is not a member of the organizations or teams this login requires.';
const UNAVAILABLE = 'GitHub could not be reached or answered unexpectedly; please try again later.';
const MISCONFIGURED = 'This login method is misconfigured; please contact your administrator.';

describe('github connector against the GitHub stand-in', () => {
  let gh: GitHubStandin;
  let clock: ManualClock;
  const stopping = new AbortController();

  beforeAll(async () => {
    gh = await startGitHubStandin({ apps: [{ ...APP, callbackURL: CALLBACK }] });
  });
  afterAll(async () => {
    stopping.abort();
    await gh?.stop();
  });

  beforeEach(() => {
    clock = new ManualClock(new Date('2025-06-01T00:00:00Z'));
    gh.users.clear();
    Object.assign(gh, {
      loginAs: 'octocat',
      pageSize: undefined,
      expiringTokens: undefined,
      outage: undefined,
      intercept: undefined,
      rootLayoutOrigin: gh.webURL,
    });
    gh.authorizations.length = 0;
    gh.tokenRequests.length = 0;
    gh.apiCalls.length = 0;
    gh.addUser({
      id: 583231,
      login: 'octocat',
      name: 'The Octocat',
      email: 'octocat@github.com',
      emails: [{ email: 'octocat@github.com', primary: true, verified: true, visibility: 'public' }],
      orgs: ['acme', 'globex'],
      teams: [
        { org: 'acme', name: 'Site Reliability', slug: 'site-reliability' },
        { org: 'acme', name: 'Red Team', slug: 'red-team' },
        { org: 'globex', name: 'Admins', slug: 'admins' },
      ],
    });
  });

  /** Opens the connector for the stand-in as a GitHub Enterprise host (hostName + rootCA). */
  function open(config: Record<string, unknown> = {}, http?: HttpClientFactory) {
    const logger = new RecordingLogger();
    const connector = openConnector(
      {
        id: 'github',
        type: 'github',
        name: 'GitHub',
        config: { ...APP, redirectURI: CALLBACK, hostName: gh.host, rootCA: gh.caFile, ...config },
      },
      {
        storage: new MemoryStorage(),
        logger,
        clock,
        signal: stopping.signal,
        http: http ?? httpClientFactory({ signal: stopping.signal }),
      },
    ) as GitHubConnector;
    return { connector, logger };
  }

  /** beginLogin, the browser at GitHub's authorize page, and the callback. */
  async function login(
    connector: GitHubConnector,
    scopes = groupsOnly,
    opts: { hint?: string; verifier?: string } = {},
  ): Promise<Identity> {
    const begin = await connector.beginLogin(scopes, CALLBACK, opts.hint);
    const back = new URL(await gh.visit(begin.url('state-1')));
    expect(`${back.origin}${back.pathname}`).toBe(CALLBACK);
    expect(back.searchParams.get('state')).toBe('state-1');
    return connector.handleCallback(
      scopes,
      CALLBACK,
      back.searchParams,
      opts.verifier ?? begin.connectorState,
    );
  }

  async function failure(p: Promise<unknown>): Promise<Error> {
    try {
      await p;
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected a failure');
  }

  describe('login', () => {
    it('sends the web flow to the Enterprise host with PKCE, and maps the user as Dex does', async () => {
      const { connector } = open({ orgs: [{ name: 'acme' }] });
      const identity = await login(connector, groupsOnly, { hint: 'octocat' });
      expect(identity).toEqual({
        userID: '583231',
        username: 'The Octocat',
        preferredUsername: 'octocat',
        email: 'octocat@github.com',
        emailVerified: true,
        groups: ['acme', 'acme:Site Reliability', 'acme:Red Team'],
      });

      const authorize = gh.authorizations[0]!;
      expect(Object.fromEntries(authorize)).toEqual({
        client_id: APP.clientID,
        redirect_uri: CALLBACK,
        scope: 'user:email read:org',
        code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        code_challenge_method: 'S256',
        login: 'octocat',
        state: 'state-1',
      });
      // The code was redeemed with the verifier of that challenge (the stand-in checks S256), at the
      // Enterprise host; the API calls went to /api/v3 with the issued token.
      expect(gh.tokenRequests.map((r) => Object.fromEntries(r))).toEqual([
        {
          client_id: APP.clientID,
          code: expect.any(String),
          redirect_uri: CALLBACK,
          code_verifier: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        },
      ]);
      const [token] = gh.tokensOf('octocat');
      expect(gh.apiCalls.map((c) => c.token)).toEqual(gh.apiCalls.map(() => token));
      expect(gh.apiCalls.map((c) => c.path).sort()).toEqual([
        '/user',
        '/user/orgs?per_page=100',
        '/user/teams?per_page=100',
      ]);
    });

    it('keeps the GitHub token for refresh only with offline_access', async () => {
      const { connector } = open();
      expect((await login(connector, { offlineAccess: false, groups: false })).connectorData).toBeUndefined();
      const identity = await login(connector, offline);
      expect(decode(identity.connectorData)).toEqual({ accessToken: gh.tokensOf('octocat').at(-1) });
    });

    it('falls back to the login for the name and uses the login as ID with useLoginAsID', async () => {
      gh.users.get('octocat')!.name = null;
      expect(await login(open().connector, noGroups)).toMatchObject({
        userID: '583231',
        username: 'octocat',
        preferredUsername: 'octocat',
      });
      expect(await login(open({ useLoginAsID: true }).connector, noGroups)).toMatchObject({
        userID: 'octocat',
        username: 'octocat',
      });
    });

    it.each<[string, string[]]>([
      ['name', ['acme', 'acme:Site Reliability', 'acme:Red Team', 'globex', 'globex:Admins']],
      ['slug', ['acme', 'acme:site-reliability', 'acme:red-team', 'globex', 'globex:admins']],
      [
        'both',
        [
          'acme',
          'acme:Site Reliability',
          'acme:site-reliability',
          'acme:Red Team',
          'acme:red-team',
          'globex',
          'globex:Admins',
          'globex:admins',
        ],
      ],
    ])('names teams by %s', async (teamNameField, groups) => {
      const { connector } = open({ teamNameField, orgs: [{ name: 'acme' }, { name: 'globex' }] });
      expect((await login(connector)).groups).toEqual(groups);
    });

    it('emits only the listed teams, and the orgs the user qualifies through', async () => {
      const { connector } = open({
        teamNameField: 'slug',
        orgs: [
          { name: 'acme', teams: ['red-team', 'blue-team'] },
          { name: 'globex', teams: ['ops'] },
          { name: 'initech' },
        ],
      });
      // globex lists a team octocat is not in: no group from it, not even its name.
      expect((await login(connector)).groups).toEqual(['acme', 'acme:red-team']);
    });

    it('matches org names case-insensitively and writes them as configured', async () => {
      const { connector } = open({ orgs: [{ name: 'ACME', teams: ['red team'] }] });
      expect((await login(connector)).groups).toEqual(['ACME', 'ACME:Red Team']);
    });

    it('refuses a user outside every listed org, or outside the listed teams', async () => {
      for (const orgs of [
        [{ name: 'initech' }],
        [{ name: 'acme', teams: ['blue-team'] }, { name: 'initech' }],
      ]) {
        const e = await failure(login(open({ orgs, teamNameField: 'slug' }).connector));
        expect(e).toBeInstanceOf(ConnectorError);
        expect((e as ConnectorError).userMessage).toBe(NOT_MEMBER);
        expect(e.message).toBe('github: user octocat is not in the required organizations or teams');
      }
    });

    it('checks membership even when the client did not ask for groups', async () => {
      const e = await failure(login(open({ orgs: [{ name: 'initech' }] }).connector, noGroups));
      expect((e as ConnectorError).userMessage).toBe(NOT_MEMBER);
      expect(gh.authorizations.at(-1)!.get('scope')).toBe('user:email read:org');
    });

    it("legacy org: members only, groups are that org's team names", async () => {
      const { connector } = open({ org: 'acme', teamNameField: 'slug' });
      expect((await login(connector)).groups).toEqual(['site-reliability', 'red-team']);
      gh.users.get('octocat')!.orgs = ['globex'];
      const e = await failure(login(connector));
      expect((e as ConnectorError).userMessage).toBe(NOT_MEMBER);
    });

    it('loadAllGroups: every org and org:team, only when groups are asked for', async () => {
      gh.users.get('octocat')!.orgs.push('initech');
      const { connector } = open({ loadAllGroups: true });
      expect((await login(connector)).groups).toEqual([
        'acme',
        'acme:Site Reliability',
        'acme:Red Team',
        'globex',
        'globex:Admins',
        'initech',
      ]);
      gh.apiCalls.length = 0;
      expect((await login(connector, noGroups)).groups).toEqual([]);
      expect(gh.authorizations.at(-1)!.get('scope')).toBe('user:email');
      expect(gh.apiCalls.map((c) => c.path)).toEqual(['/user']);
    });

    it('without orgs or loadAllGroups: no groups and no membership calls, but read:org for a groups scope', async () => {
      const { connector } = open();
      expect((await login(connector)).groups).toEqual([]);
      expect(gh.authorizations.at(-1)!.get('scope')).toBe('user:email read:org');
      expect(gh.apiCalls.map((c) => c.path)).toEqual(['/user']);
    });

    it('follows Link pagination across several pages of orgs, teams and emails', async () => {
      const octocat = gh.users.get('octocat')!;
      octocat.email = null;
      octocat.orgs = ['o1', 'o2', 'o3', 'o4', 'o5'];
      octocat.teams = ['o1', 'o3', 'o5', 'o5', 'o5'].map((org, i) => ({ org, name: `T${i}`, slug: `t${i}` }));
      octocat.emails = [
        { email: 'a@old.example', primary: false, verified: true },
        { email: 'b@old.example', primary: false, verified: true },
        { email: 'c@old.example', primary: false, verified: true },
        { email: 'octo@home.example', primary: true, verified: true },
      ];
      gh.pageSize = 2;
      const { connector } = open({ loadAllGroups: true });
      const identity = await login(connector);
      expect(identity.groups).toEqual([
        'o1',
        'o1:T0',
        'o2',
        'o3',
        'o3:T1',
        'o4',
        'o5',
        'o5:T2',
        'o5:T3',
        'o5:T4',
      ]);
      expect(identity.email).toBe('octo@home.example');
      const pages = (p: string) => gh.apiCalls.filter((c) => c.path.startsWith(`${p}?`)).map((c) => c.path);
      expect(pages('/user/orgs')).toEqual([
        '/user/orgs?per_page=100',
        '/user/orgs?per_page=100&page=2',
        '/user/orgs?per_page=100&page=3',
      ]);
      expect(pages('/user/teams')).toHaveLength(3);
      expect(pages('/user/emails')).toHaveLength(2);
    });

    it('never follows a pagination link out of the API root (the token would go with it)', async () => {
      gh.intercept = (req, res) => {
        if (req.url !== '/api/v3/user/orgs?per_page=100') return false;
        res.writeHead(200, {
          'content-type': 'application/json',
          link: `<${gh.webURL}/user/orgs?page=2>; rel="next"`,
        });
        res.end(JSON.stringify([{ login: 'acme' }]));
        return true;
      };
      const e = await failure(login(open({ loadAllGroups: true }).connector));
      expect((e as ConnectorError).userMessage).toBe(UNAVAILABLE);
      expect(e.message).toContain(`pagination link "${gh.webURL}/user/orgs?page=2" leaves ${gh.apiURL}`);
      expect(gh.apiCalls.some((c) => c.path.startsWith('/user/orgs?page=2'))).toBe(false);
    });
  });

  describe('email', () => {
    beforeEach(() => {
      const octocat = gh.users.get('octocat')!;
      octocat.email = null;
      octocat.emails = [
        { email: 'octo@home.example', primary: true, verified: true },
        { email: 'octo@eu.corp.example', primary: false, verified: true },
        { email: 'octo@corp.example', primary: false, verified: true },
      ];
    });

    it('takes the primary verified address when no public one is set', async () => {
      expect((await login(open().connector)).email).toBe('octo@home.example');
    });

    it.each([
      ['corp.example', 'octo@corp.example'],
      ['*.corp.example', 'octo@eu.corp.example'],
      ['other.example', 'octo@home.example'],
    ])('preferredEmailDomain %s picks %s', async (preferredEmailDomain, email) => {
      expect((await login(open({ preferredEmailDomain }).connector)).email).toBe(email);
    });

    it('keeps a public email even when another matches preferredEmailDomain (as Dex)', async () => {
      gh.users.get('octocat')!.email = 'octocat@github.com';
      const identity = await login(open({ preferredEmailDomain: 'corp.example' }).connector);
      expect(identity.email).toBe('octocat@github.com');
      expect(gh.apiCalls.some((c) => c.path.startsWith('/user/emails'))).toBe(false);
    });

    it('refuses a user without a verified address on github.com', async () => {
      for (const e of gh.users.get('octocat')!.emails) e.verified = false;
      const { connector } = githubDotCom();
      const e = await failure(login(connector));
      expect(e).toBeInstanceOf(ConnectorError);
      expect((e as ConnectorError).userMessage).toBe(
        'Your GitHub account has no verified email address; add or verify one on GitHub and retry.',
      );
    });
  });

  /**
   * The connector with no hostName (github.com and api.github.com), its HTTP client sending those hosts to
   * the stand-in, which serves the API at its root as api.github.com does: only the transport is redirected,
   * the connector's URLs are the real ones.
   */
  function githubDotCom(config: Record<string, unknown> = {}) {
    gh.rootLayoutOrigin = 'https://api.github.com';
    const seen: string[] = [];
    const inner = httpClientFactory({ signal: stopping.signal })({ rootCAs: [gh.ca] });
    const http: HttpClientFactory = (trust) => {
      expect(trust).toEqual({});
      return (url, init) => {
        seen.push(String(url));
        const u = new URL(String(url));
        if (u.host !== 'github.com' && u.host !== 'api.github.com')
          throw new Error(`unexpected host ${u.host}`);
        return inner(`${gh.webURL}${u.pathname}${u.search}`, init);
      };
    };
    const opened = open({ hostName: undefined, rootCA: undefined, ...config }, http);
    return { ...opened, seen };
  }

  describe('github.com layout', () => {
    it('authorizes at github.com, calls api.github.com and skips unverified addresses', async () => {
      const octocat = gh.users.get('octocat')!;
      octocat.email = null;
      octocat.emails = [
        { email: 'octo@corp.example', primary: false, verified: false },
        { email: 'octo@home.example', primary: true, verified: true },
      ];
      gh.pageSize = 1;
      const { connector, seen } = githubDotCom({ preferredEmailDomain: 'corp.example', loadAllGroups: true });
      const begin = await connector.beginLogin(groupsOnly, CALLBACK);
      expect(begin.url('s')).toMatch(
        /^https:\/\/github\.com\/login\/oauth\/authorize\?client_id=latchkey-app&/,
      );
      const back = new URL(await gh.visit(begin.url('s')));
      const identity = await connector.handleCallback(
        groupsOnly,
        CALLBACK,
        back.searchParams,
        begin.connectorState,
      );
      // Unlike on Enterprise, where Dex counts every address as verified, an unverified one is never claimed.
      expect(identity.email).toBe('octo@home.example');
      expect(identity.groups).toEqual([
        'acme',
        'acme:Site Reliability',
        'acme:Red Team',
        'globex',
        'globex:Admins',
      ]);
      expect(seen[0]).toBe('https://github.com/login/oauth/access_token');
      expect(seen.slice(1).every((u) => u.startsWith('https://api.github.com/user'))).toBe(true);
      expect(seen).toContain('https://api.github.com/user/teams?per_page=100&page=3');
    });

    it("on Enterprise counts every address as verified (GitHub Enterprise has no verification; Dex's rule)", async () => {
      const octocat = gh.users.get('octocat')!;
      octocat.email = null;
      octocat.emails = [{ email: 'octo@corp.example', primary: true, verified: false }];
      expect((await login(open().connector)).email).toBe('octo@corp.example');
    });
  });

  describe('login failures', () => {
    it("refuses a redirectURI that is not Latchkey's callback before sending anyone to GitHub", async () => {
      const { connector, logger } = open({ redirectURI: 'https://elsewhere.example/callback' });
      const e = await failure(connector.beginLogin(groupsOnly, CALLBACK));
      expect((e as ConnectorError).userMessage).toBe(MISCONFIGURED);
      expect(logger.at('error')).toHaveLength(1);
      expect(gh.authorizations).toEqual([]);
    });

    it("uses Latchkey's callback as redirect_uri when redirectURI is left out", async () => {
      const { connector } = open({ redirectURI: undefined });
      await login(connector);
      expect(gh.authorizations[0]!.get('redirect_uri')).toBe(CALLBACK);
    });

    it('refuses a code redeemed twice, a wrong PKCE verifier, and a callback without code or state', async () => {
      const { connector } = open();
      const begin = await connector.beginLogin(groupsOnly, CALLBACK);
      const back = new URL(await gh.visit(begin.url('s')));
      await connector.handleCallback(groupsOnly, CALLBACK, back.searchParams, begin.connectorState);
      const reused = await failure(
        connector.handleCallback(groupsOnly, CALLBACK, back.searchParams, begin.connectorState),
      );
      expect(reused.message).toContain('error=bad_verification_code');
      expect((reused as ConnectorError).userMessage).toBe(
        'GitHub did not accept the sign-in (it may have taken too long); please try again.',
      );

      const other = await connector.beginLogin(groupsOnly, CALLBACK);
      const wrong = await failure(login(connector, groupsOnly, { verifier: other.connectorState! }));
      expect(wrong.message).toContain('error=bad_verification_code');

      expect(
        await failure(connector.handleCallback(groupsOnly, CALLBACK, new URLSearchParams(), 'v')),
      ).toBeInstanceOf(ConnectorError);
      const noState = await failure(
        connector.handleCallback(groupsOnly, CALLBACK, new URLSearchParams({ code: 'x' }), undefined),
      );
      expect(noState.message).toBe('github: no PKCE verifier in the login state');
    });

    it('says the login is misconfigured when GitHub refuses the client secret', async () => {
      const { connector, logger } = open({ clientSecret: 'wrong' });
      const e = await failure(login(connector));
      expect((e as ConnectorError).userMessage).toBe(MISCONFIGURED);
      expect(e.message).toContain('error=incorrect_client_credentials');
      expect(logger.at('error').map((r) => r.obj)).toEqual([
        { connector: 'github', error: 'incorrect_client_credentials' },
      ]);
    });

    it('turns an outage, a rate limit, a malformed answer and an unreachable host into ConnectorErrors', async () => {
      const { connector } = open({ orgs: [{ name: 'acme' }] });
      gh.outage = 500;
      const down = await failure(login(connector));
      expect((down as ConnectorError).userMessage).toBe(UNAVAILABLE);
      expect(down.message).toContain('/login/oauth/access_token answered 500');

      gh.outage = undefined;
      gh.intercept = (req, res) => {
        if (!req.url?.startsWith('/api/v3/user/teams')) return false;
        res.writeHead(403, { 'content-type': 'application/json', 'x-ratelimit-remaining': '0' });
        res.end(JSON.stringify({ message: 'API rate limit exceeded' }));
        return true;
      };
      const limited = await failure(login(connector));
      expect((limited as ConnectorError).userMessage).toBe(
        'GitHub is limiting requests at the moment; please try again in a few minutes.',
      );
      expect(limited.message).toContain('answered 403: API rate limit exceeded');

      gh.intercept = (req, res) => {
        if (req.url !== '/api/v3/user') return false;
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
        return true;
      };
      const garbled = await failure(login(connector));
      expect((garbled as ConnectorError).userMessage).toBe(UNAVAILABLE);
      expect(garbled.message).toContain('not JSON: <html>maintenance</html>');

      gh.intercept = undefined;
      const port = await freePort();
      const nobody = open({ hostName: `127.0.0.1:${port}` }).connector;
      const begin = await nobody.beginLogin(groupsOnly, CALLBACK);
      const unreachable = await failure(
        nobody.handleCallback(groupsOnly, CALLBACK, new URLSearchParams({ code: 'c' }), begin.connectorState),
      );
      expect(unreachable).toBeInstanceOf(ConnectorError);
      expect((unreachable as ConnectorError).userMessage).toBe(UNAVAILABLE);
      expect(unreachable.message).toMatch(
        /^github: GitHub could not be reached: fetch failed: .*ECONNREFUSED/,
      );
    });

    it('does not trust the Enterprise host without its rootCA', async () => {
      const { connector } = open({ rootCA: undefined });
      const e = await failure(login(connector));
      expect((e as ConnectorError).userMessage).toBe(UNAVAILABLE);
      expect(e.message).toMatch(/certificate|self.signed|issuer/i);
    });
  });

  describe('the stand-in itself (the documented shapes the connector relies on)', () => {
    it('answers the token endpoint form-encoded unless JSON is asked for, errors with status 200', async () => {
      const { Agent, fetch } = await import('undici');
      const dispatcher = new Agent({ connect: { ca: gh.ca } });
      try {
        const res = await fetch(`${gh.webURL}/login/oauth/access_token`, {
          method: 'POST',
          body: new URLSearchParams({ ...{ client_id: APP.clientID, client_secret: 'nope' }, code: 'x' }),
          dispatcher,
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/x-www-form-urlencoded/);
        expect(new URLSearchParams(await res.text()).get('error')).toBe('incorrect_client_credentials');
        const api = await fetch(`${gh.apiURL}/user`, { dispatcher });
        expect(api.status).toBe(401);
        expect(await api.json()).toMatchObject({ message: 'Requires authentication' });
      } finally {
        await dispatcher.close();
      }
    });
  });

  describe('refresh', () => {
    async function offlineLogin(config: Record<string, unknown>) {
      const { connector } = open(config);
      const identity = await login(connector, offline);
      return { connector, identity };
    }

    it('re-reads user, email and teams with the stored token', async () => {
      const { connector, identity } = await offlineLogin({ orgs: [{ name: 'acme' }], teamNameField: 'slug' });
      expect(identity.groups).toEqual(['acme', 'acme:site-reliability', 'acme:red-team']);
      const octocat = gh.users.get('octocat')!;
      octocat.teams = [{ org: 'acme', name: 'Blue Team', slug: 'blue-team' }];
      octocat.name = 'Mona Lisa Octocat';
      octocat.email = 'mona@github.com';
      gh.tokenRequests.length = 0;
      const refreshed = await connector.refresh(offline, identity);
      expect(refreshed).toEqual({
        userID: '583231',
        username: 'Mona Lisa Octocat',
        preferredUsername: 'octocat',
        email: 'mona@github.com',
        emailVerified: true,
        groups: ['acme', 'acme:blue-team'],
        connectorData: identity.connectorData,
      });
      expect(gh.tokenRequests).toEqual([]);
    });

    it('ends the login when the user left the required orgs or teams', async () => {
      const { connector, identity } = await offlineLogin({ orgs: [{ name: 'acme', teams: ['Red Team'] }] });
      gh.users.get('octocat')!.teams = [];
      const e = await failure(connector.refresh(offline, identity));
      expect(e).toBeInstanceOf(RefreshDeniedError);
      expect(e.message).toBe('github: user octocat is not in the required organizations or teams');
    });

    it('ends the login when the GitHub token was revoked or the user deleted', async () => {
      const { connector, identity } = await offlineLogin({});
      gh.revokeTokensOf('octocat');
      const e = await failure(connector.refresh(offline, identity));
      expect(e).toBeInstanceOf(RefreshDeniedError);
      expect(e.message).toContain('answered 401: Bad credentials');
    });

    it('keeps the login through an outage (ConnectorError, not a denial)', async () => {
      const { connector, identity } = await offlineLogin({ orgs: [{ name: 'acme' }] });
      gh.outage = 502;
      const e = await failure(connector.refresh(offline, identity));
      expect(e).toBeInstanceOf(ConnectorError);
      expect((e as ConnectorError).userMessage).toBe(UNAVAILABLE);
      gh.outage = undefined;
      expect((await connector.refresh(offline, identity)).groups).toEqual([
        'acme',
        'acme:Site Reliability',
        'acme:Red Team',
      ]);
    });

    it('denies a refresh without a stored token, and one whose login was renamed (useLoginAsID)', async () => {
      const { connector, identity } = await offlineLogin({ useLoginAsID: true });
      expect(identity.userID).toBe('octocat');
      const { connectorData: _none, ...bare } = identity;
      expect(await failure(connector.refresh(offline, bare))).toBeInstanceOf(RefreshDeniedError);
      expect(
        await failure(
          connector.refresh(offline, { ...identity, connectorData: new TextEncoder().encode('{') }),
        ),
      ).toBeInstanceOf(RefreshDeniedError);

      // GitHub tokens belong to the account, not its login: after a rename the token reads the new login.
      const octocat = gh.users.get('octocat')!;
      gh.users.delete('octocat');
      gh.users.set('monalisa', { ...octocat, login: 'monalisa' });
      const renamed = await failure(connector.refresh(offline, identity));
      expect(renamed).toBeInstanceOf(RefreshDeniedError);
      expect(renamed.message).toBe(
        'github: user ID "octocat" is now "monalisa" (login renamed); log in again',
      );
    });

    it('renews an expiring (GitHub App) token with its refresh token once it is due', async () => {
      gh.expiringTokens = { expiresIn: 8 * 3600 };
      const { connector, identity } = await offlineLogin({ orgs: [{ name: 'acme' }] });
      const stored = decode(identity.connectorData) as Record<string, string>;
      expect(stored).toEqual({
        accessToken: expect.stringMatching(/^ghu_/),
        refreshToken: expect.stringMatching(/^ghr_/),
        expiry: '2025-06-01T08:00:00.000Z',
      });

      // Not yet due: the access token is used as it is.
      const early = await connector.refresh(offline, identity);
      expect(decode(early.connectorData)).toEqual(stored);
      expect(gh.tokenRequests.filter((r) => r.get('grant_type') === 'refresh_token')).toEqual([]);

      clock.advance(8 * 3600_000);
      const late = await connector.refresh(offline, identity);
      const renewed = decode(late.connectorData) as Record<string, string>;
      expect(renewed.accessToken).not.toBe(stored.accessToken);
      expect(renewed.refreshToken).not.toBe(stored.refreshToken);
      expect(renewed.expiry).toBe('2025-06-01T16:00:00.000Z');
      expect(Object.fromEntries(gh.tokenRequests.at(-1)!)).toEqual({
        client_id: APP.clientID,
        grant_type: 'refresh_token',
        refresh_token: stored.refreshToken,
      });

      // The old refresh token was used up: presenting it again is GitHub's bad_refresh_token, a denial.
      const replay = await failure(connector.refresh(offline, identity));
      expect(replay).toBeInstanceOf(RefreshDeniedError);
      expect(replay.message).toContain('error=bad_refresh_token');
    });

    it('reads the Dex HEAD form of connector data (Go zero expiry = a token that does not expire)', async () => {
      const { connector, identity } = await offlineLogin({});
      const { accessToken } = decode(identity.connectorData) as { accessToken: string };
      const dexData = JSON.stringify({ accessToken, refreshToken: '', expiry: '0001-01-01T00:00:00Z' });
      const refreshed = await connector.refresh(offline, {
        ...identity,
        connectorData: new TextEncoder().encode(dexData),
      });
      expect(refreshed.userID).toBe('583231');
      expect(decode(refreshed.connectorData)).toEqual({ accessToken });
    });
  });
});
