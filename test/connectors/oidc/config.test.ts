import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { ConnectorConfigError } from '../../../src/connectors/config-keys.js';
import type { HttpClientFactory, HttpFetch } from '../../../src/connectors/http.js';
import { parseOidcConfig } from '../../../src/connectors/oidc/config.js';
import { OidcConnector } from '../../../src/connectors/oidc/oidc.js';
import { openConnector } from '../../../src/connectors/registry.js';
import { MemoryStorage } from '../../../src/storage/memory/memory.js';
import { ConfigSection } from '../../../src/connectors/config-keys.js';
import { RecordingLogger } from '../helpers.js';

// `type: oidc` configuration, opened as the registry opens it: every mistake names its key path, the
// defaults are Dex's, what Latchkey warns about is logged naming the connector, and opening dials nothing.

const ISSUER = 'https://idp.example.com';

/** An HTTP client that records what would be fetched and fetches nothing. */
function recordingHttp(): { http: HttpClientFactory; calls: string[] } {
  const calls: string[] = [];
  const fetch: HttpFetch = async (url) => {
    calls.push(String(url));
    throw new TypeError('fetch failed');
  };
  return { http: () => fetch, calls };
}

function open(config: Record<string, unknown>, signal = new AbortController().signal) {
  const logger = new RecordingLogger();
  const { http, calls } = recordingHttp();
  const connector = openConnector(
    { id: 'up', type: 'oidc', name: 'Upstream', config },
    { storage: new MemoryStorage(), logger, signal, http },
  );
  return { connector, logger, calls };
}

const problem = (config: Record<string, unknown>): string => {
  const stop = new AbortController();
  try {
    open(config, stop.signal);
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectorConfigError);
    return (e as Error).message;
  } finally {
    stop.abort();
  }
  throw new Error('expected a config error');
};

describe('type: oidc configuration', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-oidc-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [{}, 'connectors[up].config.issuer: required'],
    [{ issuer: 'idp.example.com' }, 'connectors[up].config.issuer: "idp.example.com" is not an absolute URL'],
    [
      { issuer: 'ftp://idp.example.com' },
      'connectors[up].config.issuer: "ftp://idp.example.com" is not an http(s) URL',
    ],
    [{ issuer: 42 }, 'connectors[up].config.issuer: expected a string, got number'],
    [
      { issuer: ISSUER, scopes: 5 },
      'connectors[up].config.scopes: expected a string or a list of strings, got number',
    ],
    [
      { issuer: ISSUER, scopes: ['email', 7] },
      'connectors[up].config.scopes[1]: expected a non-empty string, got number',
    ],
    [
      { issuer: ISSUER, getUserInfo: 'yes' },
      'connectors[up].config.getUserInfo: expected true or false, got string',
    ],
    [
      { issuer: ISSUER, clientSecret: 's' },
      'connectors[up].config.clientID: required when clientSecret is set',
    ],
    [
      { issuer: ISSUER, pkceChallenge: 'S512' },
      'connectors[up].config.pkceChallenge: expected "S256" or "plain"',
    ],
    [
      { issuer: ISSUER, claimMapping: ['email'] },
      'connectors[up].config.claimMapping: expected a mapping, got a list',
    ],
    [
      { issuer: ISSUER, providerDiscoveryOverrides: { tokenURL: '/token' } },
      'connectors[up].config.providerDiscoveryOverrides.tokenURL: "/token" is not an absolute URL',
    ],
    [
      { issuer: ISSUER, claimModifications: { filterGroupClaims: { groupsFilter: '^(admins' } } },
      expect.stringMatching(
        /^connectors\[up\]\.config\.claimModifications\.filterGroupClaims\.groupsFilter: "\^\(admins" is not a valid regular expression: /,
      ),
    ],
    [
      { issuer: ISSUER, claimModifications: { newGroupFromClaims: [{ delimiter: ':' }] } },
      'connectors[up].config.claimModifications.newGroupFromClaims[0].claims: required',
    ],
    [
      { issuer: ISSUER, emailKey: 'mail', claimMapping: { email: 'upn' } },
      'connectors[up].config.emailKey: conflicts with connectors[up].config.claimMapping.email ("upn"); set one of them',
    ],
    [{ issuer: ISSUER, Issuer: ISSUER }, expect.stringContaining('given more than once')],
  ])('refuses %j', (config, expected) => {
    expect(problem(config)).toEqual(expected);
  });

  it('names an unreadable rootCAs file, and a file holding no certificate', () => {
    expect(problem({ issuer: ISSUER, rootCAs: [join(dir, 'missing.pem')] })).toMatch(
      /^connectors\[up\]\.config\.rootCAs\[0\]: cannot read ".*missing\.pem": ENOENT/,
    );
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(problem({ issuer: ISSUER, rootCAs: notPem })).toBe(
      `connectors[up].config.rootCAs: ${JSON.stringify(notPem)} holds no PEM certificate`,
    );
  });

  it("takes Dex's defaults and keys in any case", () => {
    const { config } = parseOidcConfig(
      ConfigSection.of('connectors[up].config', {
        issuer: ISSUER,
        ClientId: 'latchkey',
        insecureenablegroups: true,
        claimMapping: { Email: 'mail' },
      }),
    );
    expect(config).toMatchObject({
      issuer: ISSUER,
      clientID: 'latchkey',
      scopes: ['openid', 'profile', 'email'],
      promptType: 'consent',
      basicAuthUnsupported: undefined,
      audiences: [],
      claims: {
        userNameKey: 'name',
        emailKey: 'mail',
        emailRequired: true,
        groupsEnabled: true,
        allowedGroups: [],
        hostedDomains: [],
      },
    });
    const written = parseOidcConfig(
      ConfigSection.of('c', {
        issuer: ISSUER,
        scopes: ['groups', 'openid', 'offline_access', 'groups'],
        promptType: '',
        basicAuthUnsupported: false,
        claimModifications: { filterGroupClaims: { groupsFilter: '(?i)^ADMINS$' } },
      }),
    ).config;
    expect(written.scopes).toEqual(['openid', 'groups']);
    expect(written.promptType).toBeUndefined();
    expect(written.basicAuthUnsupported).toBe(false);
    expect(written.claims.emailRequired).toBe(false);
    expect(written.claims.groupsFilter!.test('admins')).toBe(true);
  });

  it('warns, naming the connector, about any audience, unread nested keys, overrides and enforced restrictions', () => {
    const stop = new AbortController();
    const { logger } = open(
      {
        issuer: ISSUER,
        claimMapping: { emial: 'mail' },
        providerDiscoveryOverrides: { tokenURL: `${ISSUER}/token`, deviceAuthURL: `${ISSUER}/device` },
        allowedGroups: ['admins'],
        pkceChallenge: 'plain',
        bogus: true,
      },
      stop.signal,
    );
    stop.abort();
    expect(logger.at('warn').map((r) => [r.obj, r.msg])).toEqual([
      [{ connector: 'up' }, 'connectors[up].config.pkceChallenge: "plain" is not used; logins use S256 PKCE'],
      [
        { connector: 'up' },
        'connectors[up].config.providerDiscoveryOverrides.deviceAuthURL: unknown key, ignored',
      ],
      [
        { connector: 'up' },
        "connectors[up].config.providerDiscoveryOverrides: endpoints overridden; they are trusted in place of the issuer's discovery document",
      ],
      [
        { connector: 'up' },
        'connectors[up].config: token exchange accepts subject tokens issued for any audience; set audiences (or clientID) to accept only tokens meant for Latchkey',
      ],
      [{ connector: 'up' }, 'connectors[up].config.claimMapping.emial: unknown key, ignored'],
      [
        { connector: 'up' },
        "connectors[up].config.allowedGroups: enforced although insecureEnableGroups is not set (Dex would ignore it): the upstream's groups claim is read to check membership",
      ],
      [
        { connector: 'up', keys: ['bogus'] },
        'connectors[up].config: ignoring keys that type oidc does not read',
      ],
    ]);
  });

  it('loads the seed configs (no clientID, no audiences) with only the audience warning', () => {
    for (const config of [
      { issuer: 'https://token.example.com', scopes: ['groups', 'federated:id'], userNameKey: 'sub' },
      {
        issuer: 'https://token.actions.githubusercontent.com',
        scopes: ['openid', 'groups'],
        userNameKey: 'sub',
      },
    ]) {
      const stop = new AbortController();
      const { connector, logger } = open(config, stop.signal);
      stop.abort();
      expect(connector).toBeInstanceOf(OidcConnector);
      expect(logger.at('warn').map((r) => r.msg)).toEqual([
        expect.stringContaining('token exchange accepts subject tokens issued for any audience'),
      ]);
    }
  });

  describe('opening dials nothing', () => {
    afterEach(() => jest.useRealTimers());

    it('defers discovery to a timer, which a stop right after opening (serve --check) cancels', () => {
      jest.useFakeTimers();
      const stop = new AbortController();
      const { calls } = open({ issuer: ISSUER }, stop.signal);
      expect(calls).toEqual([]);
      expect(jest.getTimerCount()).toBe(1);
      stop.abort();
      expect(jest.getTimerCount()).toBe(0);
      jest.runAllTimers();
      expect(calls).toEqual([]);
    });

    it('stops the background discovery when closed (a reopened connector replaces it)', () => {
      jest.useFakeTimers();
      const stop = new AbortController();
      const { connector, calls } = open({ issuer: ISSUER }, stop.signal);
      expect(jest.getTimerCount()).toBe(1);
      (connector as OidcConnector).close();
      expect(jest.getTimerCount()).toBe(0);
      jest.runAllTimers();
      expect(calls).toEqual([]);
      stop.abort();
    });

    it('does not even schedule discovery once the server is stopping', () => {
      jest.useFakeTimers();
      const stop = new AbortController();
      stop.abort();
      const { calls } = open({ issuer: ISSUER }, stop.signal);
      expect(jest.getTimerCount()).toBe(0);
      expect(calls).toEqual([]);
    });
  });
});
