import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectorConfigError } from '../../../src/connectors/config-keys.js';
import { nextLink } from '../../../src/connectors/github/api.js';
import { matchesEmailDomain } from '../../../src/connectors/github/config.js';
import { GitHubConnector } from '../../../src/connectors/github/github.js';
import type { HttpClientFactory } from '../../../src/connectors/http.js';
import { openConnector } from '../../../src/connectors/registry.js';
import { MemoryStorage } from '../../../src/storage/memory/memory.js';
import { RecordingLogger } from '../helpers.js';

// `type: github` configuration: every mistake stops opening with the key path that holds it, and opening
// contacts nobody (reference §6; Dex's github.go Open for the rules it has, Latchkey's stricter ones named).

const BASE = { clientID: 'gh-client', clientSecret: 'gh-secret' };
const P = 'connectors[gh].config';

function open(config: Record<string, unknown>, http?: HttpClientFactory) {
  const logger = new RecordingLogger();
  const connector = openConnector(
    { id: 'gh', type: 'github', name: 'GitHub', config },
    { storage: new MemoryStorage(), logger, ...(http ? { http } : {}) },
  );
  return { connector, logger };
}

function failure(config: Record<string, unknown>): string {
  try {
    open(config);
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectorConfigError);
    return (e as Error).message;
  }
  throw new Error('expected the config to be refused');
}

describe('github connector configuration', () => {
  let dir: string;
  let pemFile: string;
  let notPem: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-github-config-'));
    const { execFileSync } = await import('node:child_process');
    execFileSync('bash', ['scripts/gencert.sh', '--ip', '127.0.0.1', '--out', dir], { stdio: 'ignore' });
    pemFile = join(dir, 'ca.pem');
    notPem = join(dir, 'not-a-cert.txt');
    await writeFile(notPem, 'hello\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens a complete Enterprise config without contacting anybody, keys read case-insensitively', () => {
    const fetched: string[] = [];
    const trusts: unknown[] = [];
    const http: HttpClientFactory = (trust) => {
      trusts.push(trust);
      return async (url) => {
        fetched.push(String(url));
        throw new Error('opening must not fetch');
      };
    };
    const { connector, logger } = open(
      {
        ClientId: 'gh-client',
        clientsecret: 'gh-secret',
        redirectURI: 'https://latchkey.example.com/dex/callback',
        orgs: [{ name: 'acme', teams: ['red', 'blue'] }, { Name: 'globex' }],
        hostName: 'ghe.example.com:8443',
        rootCA: pemFile,
        teamNameField: 'both',
        useLoginAsID: true,
        preferredEmailDomain: '*.Example.com',
      },
      http,
    );
    expect(connector).toBeInstanceOf(GitHubConnector);
    expect(connector.kind).toBe('callback');
    expect(fetched).toEqual([]);
    // The rootCA file's certificate is handed to the HTTP client as an extra root.
    expect(trusts).toEqual([{ rootCAs: [expect.stringContaining('-----BEGIN CERTIFICATE-----')] }]);
    expect(logger.records).toEqual([]);
  });

  it('trusts only the system roots without rootCA', () => {
    const trusts: unknown[] = [];
    open({ ...BASE, hostName: 'ghe.example.com' }, (trust) => {
      trusts.push(trust);
      return async () => new Response();
    });
    expect(trusts).toEqual([{}]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'org and orgs together',
      { ...BASE, org: 'acme', orgs: [{ name: 'acme' }] },
      `${P}.org: cannot be combined with orgs (org is the older form of orgs: move it into the orgs list)`,
    ],
    [
      'rootCA without hostName',
      { ...BASE, rootCA: '/etc/ssl/ca.pem' },
      `${P}.rootCA: requires hostName: rootCA is for a GitHub Enterprise host (github.com is trusted through the system roots)`,
    ],
    [
      'preferredEmailDomain ending in *',
      { ...BASE, preferredEmailDomain: 'example.*' },
      `${P}.preferredEmailDomain: may not end with "*" (got "example.*"): a wildcard top-level domain would match anyone's address`,
    ],
    [
      'preferredEmailDomain that is an address',
      { ...BASE, preferredEmailDomain: 'me@example.com' },
      `${P}.preferredEmailDomain: expected a domain such as "example.com" or "*.example.com", got "me@example.com"`,
    ],
    [
      'preferredEmailDomain with a partial wildcard',
      { ...BASE, preferredEmailDomain: 'eu*.example.com' },
      `${P}.preferredEmailDomain: expected a domain such as "example.com" or "*.example.com", got "eu*.example.com"`,
    ],
    [
      'a teamNameField Dex does not know',
      { ...BASE, teamNameField: 'id' },
      `${P}.teamNameField: expected "name", "slug" or "both", got "id"`,
    ],
    ['no clientID', { clientSecret: 's' }, `${P}.clientID: required (the OAuth app's "Client ID")`],
    [
      'an empty clientSecret (an unset $VAR)',
      { clientID: 'c', clientSecret: '' },
      `${P}.clientSecret: required (a client secret of the OAuth app)`,
    ],
    ['clientID of the wrong type', { ...BASE, clientID: 42 }, `${P}.clientID: expected a string, got number`],
    [
      'loadAllGroups of the wrong type',
      { ...BASE, loadAllGroups: 'yes' },
      `${P}.loadAllGroups: expected true or false, got string`,
    ],
    [
      'useLoginAsID of the wrong type',
      { ...BASE, useLoginAsID: 1 },
      `${P}.useLoginAsID: expected true or false, got number`,
    ],
    ['orgs as a string', { ...BASE, orgs: 'acme' }, `${P}.orgs: expected a list, got string`],
    ['an org as a string', { ...BASE, orgs: ['acme'] }, `${P}.orgs[0]: expected a mapping, got string`],
    [
      'an org without a name',
      { ...BASE, orgs: [{ name: 'acme' }, { teams: ['red'] }] },
      `${P}.orgs[1].name: required (the organization's login, as in github.com/<name>)`,
    ],
    [
      'a team of the wrong type',
      { ...BASE, orgs: [{ name: 'acme', teams: ['red', 7] }] },
      `${P}.orgs[0].teams[1]: expected a non-empty string, got number`,
    ],
    [
      'a misspelt teams key (which would let the whole org in)',
      { ...BASE, orgs: [{ name: 'acme', team: ['red'] }] },
      `${P}.orgs[0].team: not an orgs key (name, teams)`,
    ],
    [
      'an org listed twice',
      { ...BASE, orgs: [{ name: 'acme' }, { name: 'ACME', teams: ['red'] }] },
      `${P}.orgs[1].name: "ACME" is already listed at ${P}.orgs[0].name; list each organization once`,
    ],
    [
      'hostName as a URL',
      { ...BASE, hostName: 'https://ghe.example.com/' },
      `${P}.hostName: expected a host name, not a URL: write "ghe.example.com" (the connector always uses https)`,
    ],
    [
      'hostName with a path (Dex refuses a "/")',
      { ...BASE, hostName: 'ghe.example.com/api' },
      `${P}.hostName: expected host or host:port, got "ghe.example.com/api"`,
    ],
    [
      'hostName with a bad port',
      { ...BASE, hostName: 'ghe.example.com:99999' },
      `${P}.hostName: expected host or host:port, got "ghe.example.com:99999"`,
    ],
    [
      'a redirectURI that is not a URL',
      { ...BASE, redirectURI: '/dex/callback' },
      `${P}.redirectURI: "/dex/callback" is not an absolute URL`,
    ],
    [
      'a key given twice in two spellings',
      { ...BASE, hostName: 'a.example.com', hostname: 'b.example.com' },
      `${P}.hostName: given more than once ("hostName", "hostname"); keys are case-insensitive`,
    ],
    [
      'the config as a list',
      [] as unknown as Record<string, unknown>,
      `${P}: expected a mapping, got a list`,
    ],
  ])('refuses %s, naming the key path', (_what, config, message) => {
    expect(failure(config)).toBe(message);
  });

  it('names the rootCA path when the file is missing or holds no certificate', () => {
    expect(failure({ ...BASE, hostName: 'ghe.example.com', rootCA: join(dir, 'absent.pem') })).toMatch(
      new RegExp(`^${P.replace(/[[\]]/g, '\\$&')}\\.rootCA: cannot read ".*absent\\.pem": ENOENT`),
    );
    expect(failure({ ...BASE, hostName: 'ghe.example.com', rootCA: notPem })).toBe(
      `${P}.rootCA: ${JSON.stringify(notPem)} holds no PEM certificate`,
    );
  });

  it('warns about a loadAllGroups that has no effect and unknown keys, not about the legacy org key', () => {
    expect(open({ ...BASE, org: 'acme' }).logger.at('warn')).toEqual([]);
    expect(
      open({ ...BASE, org: 'acme', loadAllGroups: true, teamNameFeild: 'slug' }).logger.at('warn'),
    ).toEqual([
      {
        level: 'warn',
        obj: { connector: 'gh' },
        msg: `${P}.loadAllGroups: has no effect when org is set (groups come from the listed organizations)`,
      },
      {
        level: 'warn',
        obj: { connector: 'gh', keys: ['teamNameFeild'] },
        msg: `${P}: ignoring keys that type github does not read`,
      },
    ]);
  });

  it('accepts an empty orgs list next to org, as Dex does (org is then the rule)', () => {
    expect(open({ ...BASE, org: 'acme', orgs: [] }).connector).toBeInstanceOf(GitHubConnector);
  });
});

describe('preferredEmailDomain matching (Dex: one label per "*")', () => {
  it.each<[string, string, boolean]>([
    ['example.com', 'test@example.com', true],
    ['example.com', 'test@EXAMPLE.com', true],
    ['example.com', 'test@another.com', false],
    ['*.example.com', 'test@my.example.com', true],
    ['*.example.com', 'test@example.com', false],
    ['*.example.com', 'test@my.another.com', false],
    ['*.example.com', 'test@my.domain.example.com', false],
    ['*.example.com', 'test@sub.domain.com', false],
    ['*.*.example.com', 'test@sub.my.example.com', true],
    ['*.*.example.com', 'test@a.my.google.com', false],
    ['users.noreply.github.com', '583231+octocat@users.noreply.github.com', true],
    ['example.com', 'not-an-address', false],
  ])('%s against %s: %s', (glob, email, expected) => {
    expect(matchesEmailDomain(glob, email)).toBe(expected);
  });
});

describe('Link header parsing (RFC 8288, GitHub pagination)', () => {
  const base = 'https://api.github.com/user/teams?per_page=100';
  it.each<[string | null, string | undefined]>([
    [null, undefined],
    ['', undefined],
    [
      '<https://api.github.com/user/teams?page=2>; rel="next", <https://api.github.com/user/teams?page=5>; rel="last"',
      'https://api.github.com/user/teams?page=2',
    ],
    [
      '<https://api.github.com/user/teams?page=1>; rel="prev", <https://api.github.com/user/teams?page=3>; rel="next"',
      'https://api.github.com/user/teams?page=3',
    ],
    ['<https://api.github.com/user/teams?page=1>; rel="first"', undefined],
    ['</user/teams?page=4>; rel=next', 'https://api.github.com/user/teams?page=4'],
    ['<https://api.github.com/x?page=2>; title="a,b"; rel="prev next"', 'https://api.github.com/x?page=2'],
  ])('%j → %j', (header, expected) => {
    expect(nextLink(header, base)).toBe(expected);
  });
});
