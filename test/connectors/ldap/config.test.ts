import { ConnectorConfigError } from '../../../src/connectors/config-keys.js';
import { parseLdapConfig, type LdapConfig } from '../../../src/connectors/ldap/config.js';
import { loadConnectorTypes, openConnector } from '../../../src/connectors/registry.js';
import { LdapConnector } from '../../../src/connectors/ldap/ldap.js';
import { MemoryStorage } from '../../../src/storage/memory/memory.js';
import { RecordingLogger } from '../helpers.js';

// A throwaway CA certificate (no key kept): what rootCA / rootCAData must contain.
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUJ7x2XQ3uO0oKrCE8bRpmkL9gRlQwCgYIKoZIzj0EAwIw
EDEOMAwGA1UEAwwFdGVzdDEwIBcNMjUwMTAxMDAwMDAwWhgPMjEyNDEyMDgwMDAw
MDBaMBAxDjAMBgNVBAMMBXRlc3QxMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
-----END CERTIFICATE-----
`;

const minimal = (extra: Record<string, unknown> = {}) => ({
  host: 'ldap.example.com',
  userSearch: { baseDN: 'cn=Users,dc=example,dc=com', username: 'sAMAccountName' },
  ...extra,
});

const parse = (raw: unknown, files: Record<string, string> = {}) =>
  parseLdapConfig('ldap', raw, {
    readFile: (p) => {
      const content = files[p];
      if (content === undefined) throw new Error(`ENOENT: no such file, open '${p}'`);
      return content;
    },
  });

function problem(raw: unknown, files: Record<string, string> = {}): string {
  try {
    parse(raw, files);
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectorConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConnectorConfigError');
}

let validCA: string;
beforeAll(async () => {
  // A real (self-signed) certificate for rootCA / rootCAData to hold.
  const { execFileSync } = await import('node:child_process');
  validCA = execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      '/dev/null',
      '-subj',
      '/CN=config-test-ca',
      '-days',
      '1',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
});

describe('ldap config: defaults', () => {
  it('uses LDAPS on 636, Dex’s documented attribute defaults, "Username" and no groups', () => {
    const { config, warnings } = parse(minimal());
    expect(config).toEqual<LdapConfig>({
      host: 'ldap.example.com',
      port: 636,
      security: 'ldaps',
      tls: { insecureSkipVerify: false },
      bindDN: '',
      bindPW: '',
      usernamePrompt: 'Username',
      emailVerified: true,
      userSearch: {
        baseDN: 'cn=Users,dc=example,dc=com',
        username: [{ kind: 'equality', attribute: 'sAMAccountName', text: 'sAMAccountName' }],
        scope: 'sub',
        idAttr: 'uid',
        emailAttr: 'mail',
      },
    });
    expect(warnings).toEqual([]);
  });

  it.each([
    [{ insecureNoSSL: true }, 'none', 389],
    [{ startTLS: true }, 'startTLS', 389],
    [{ host: 'ldap.example.com:3269' }, 'ldaps', 3269],
    [{ host: '[::1]:1636' }, 'ldaps', 1636],
    [{ host: '::1', insecureNoSSL: true }, 'none', 389],
    [{ host: '10.0.0.7:10389', startTLS: true }, 'startTLS', 10389],
  ])('%j ⇒ %s on port %d', (extra, security, port) => {
    const { config } = parse(minimal(extra));
    expect({ security: config.security, port: config.port }).toEqual({ security, port });
  });

  it('reads keys case-insensitively, as Dex (Go encoding/json) does', () => {
    const { config } = parse({
      Host: 'ad.example.com',
      BINDDN: 'cn=svc',
      bindpw: 'pw',
      UserSearch: { BaseDn: 'dc=x', UserName: ['sAMAccountName', 'userPrincipalName'], IDATTR: 'DN' },
    });
    expect(config.host).toBe('ad.example.com');
    expect(config.bindDN).toBe('cn=svc');
    expect(config.userSearch.username.map((u) => u.text)).toEqual(['sAMAccountName', 'userPrincipalName']);
    expect(config.userSearch.idAttr).toBe('DN');
  });

  it('reads the seed’s AD group search, and the legacy flat userAttr/groupAttr', () => {
    const groupSearch = {
      baseDN: 'cn=Users,dc=example,dc=com',
      filter: '(objectClass=group)',
      userMatchers: [{ userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'member' }],
      nameAttr: 'cn',
    };
    const { config } = parse(minimal({ groupSearch }));
    expect(config.groupSearch).toMatchObject({
      baseDN: 'cn=Users,dc=example,dc=com',
      scope: 'sub',
      nameAttr: 'cn',
      userMatchers: [
        {
          userAttr: 'DN',
          groupAttr: { kind: 'equality', attribute: 'member' },
          recursionGroupAttr: { kind: 'equality', attribute: 'member' },
        },
      ],
    });
    expect(config.groupSearch!.filter!.toString()).toBe('(objectClass=group)');
    const legacy = parse(
      minimal({
        groupSearch: {
          baseDN: 'ou=g',
          userAttr: 'uid',
          groupAttr: 'memberUid',
          nameAttr: 'cn',
          scope: 'one',
        },
      }),
    ).config.groupSearch!;
    expect(legacy).toMatchObject({
      scope: 'one',
      userMatchers: [{ userAttr: 'uid', groupAttr: { attribute: 'memberUid' } }],
    });
  });

  it('has no group search without a group baseDN, and warns when the rest suggests one was meant', () => {
    const { config, warnings } = parse(minimal({ groupSearch: { nameAttr: 'cn', userMatchers: [] } }));
    expect(config.groupSearch).toBeUndefined();
    expect(warnings).toEqual([
      'connectors[ldap].config.groupSearch.baseDN: not set, so no groups are looked up',
    ]);
  });

  it('loads rootCA from a file and rootCAData from base64 (or as plain PEM)', () => {
    expect(parse(minimal({ rootCA: '/ca.pem' }), { '/ca.pem': validCA }).config.tls.ca).toBe(
      validCA.trim() + '\n',
    );
    const data = Buffer.from(validCA).toString('base64');
    expect(parse(minimal({ rootCAData: data })).config.tls.ca).toBe(validCA.trim() + '\n');
    expect(parse(minimal({ rootCAData: validCA })).config.tls.ca).toBe(validCA.trim() + '\n');
  });

  it('loads a client certificate and key', () => {
    const { config } = parse(minimal({ clientCert: '/c.pem', clientKey: '/k.pem' }), {
      '/c.pem': validCA,
      // A truncated placeholder, not a key (spelled in two parts so secret scanners do not flag it).
      '/k.pem': `-----BEGIN ${'PRIVATE'} KEY-----\nMIG\n-----END PRIVATE KEY-----\n`,
    });
    expect(config.tls.cert).toBe(validCA);
    expect(config.tls.key).toContain('PRIVATE KEY');
  });

  it('says email_verified true by default, as Dex does, and false when configured so', () => {
    expect(parse(minimal()).config.emailVerified).toBe(true);
    expect(parse(minimal({ emailVerified: false })).config.emailVerified).toBe(false);
    expect(parse(minimal({ EmailVerified: false })).config.emailVerified).toBe(false);
    expect(problem(minimal({ emailVerified: 'no' }))).toBe(
      'connectors[ldap].config.emailVerified: expected true or false, got string',
    );
  });

  it('warns that insecureSkipVerify leaves the directory unchecked', () => {
    for (const transport of [{}, { startTLS: true }]) {
      expect(parse(minimal({ ...transport, insecureSkipVerify: true })).warnings).toEqual([
        expect.stringMatching(
          /^connectors\[ldap\]\.config\.insecureSkipVerify: the directory's TLS certificate is not checked/,
        ),
      ]);
    }
  });

  it('warns about keys it does not read and TLS settings that plain LDAP ignores', () => {
    const { warnings } = parse(
      minimal({
        insecureNoSSL: true,
        insecureSkipVerify: true,
        userSearch: { baseDN: 'dc=x', username: 'uid', emailAtr: 'mail' },
      }),
    );
    expect(warnings).toEqual([
      'connectors[ldap].config: insecureNoSSL is set, so insecureSkipVerify is not used',
      'connectors[ldap].config.userSearch.emailAtr: not a userSearch key; ignored',
    ]);
  });

  it('is what the registry opens for type ldap, warning about unknown top-level keys', async () => {
    await loadConnectorTypes(['ldap']);
    const logger = new RecordingLogger();
    const connector = openConnector(
      { id: 'ad', type: 'ldap', name: 'AD', config: minimal({ hots: 'typo' }) },
      { storage: new MemoryStorage(), logger },
    );
    expect(connector).toBeInstanceOf(LdapConnector);
    expect(connector.kind === 'password' && connector.prompt()).toBe('Username');
    expect(logger.at('warn').map((r) => r.msg)).toEqual([
      'connectors[ad].config: ignoring keys that type ldap does not read',
    ]);
    expect(logger.at('warn')[0]!.obj).toMatchObject({ keys: ['hots'] });
  });
});

describe('ldap config: refused, naming the key path', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['no host', { host: undefined }, 'connectors[ldap].config.host: required'],
    [
      'a bad port',
      { host: 'h:99999' },
      'connectors[ldap].config.host: expected a port from 1 to 65535 after the ":", got "h:99999"',
    ],
    [
      'a URL for host',
      { host: 'ldaps://h' },
      'connectors[ldap].config.host: expected host or host:port, got "ldaps://h"',
    ],
    [
      'a string for a boolean',
      { startTLS: 'yes' },
      'connectors[ldap].config.startTLS: expected true or false, got string',
    ],
    [
      'startTLS with insecureNoSSL',
      { startTLS: true, insecureNoSSL: true },
      'connectors[ldap].config.startTLS: cannot be combined with insecureNoSSL (StartTLS upgrades a plain connection to TLS; insecureNoSSL means no TLS at all)',
    ],
    ['bindPW without bindDN', { bindPW: 'x' }, 'connectors[ldap].config.bindDN: required when bindPW is set'],
    [
      'bindDN without bindPW',
      { bindDN: 'cn=svc' },
      'connectors[ldap].config.bindPW: required when bindDN is set (leave both empty for an anonymous search)',
    ],
    ['no userSearch', { userSearch: undefined }, 'connectors[ldap].config.userSearch.baseDN: required'],
    [
      'userSearch not a mapping',
      { userSearch: 'uid' },
      'connectors[ldap].config.userSearch: expected a mapping, got string',
    ],
    [
      'no username',
      { userSearch: { baseDN: 'dc=x' } },
      'connectors[ldap].config.userSearch.username: required (an attribute name or a list of them)',
    ],
    [
      'an empty entry in a username list',
      { userSearch: { baseDN: 'dc=x', username: ['uid', ''] } },
      'connectors[ldap].config.userSearch.username[1]: expected a non-empty string, got an empty string',
    ],
    [
      'DN as username',
      { userSearch: { baseDN: 'dc=x', username: 'DN' } },
      'connectors[ldap].config.userSearch.username: "DN" cannot be searched for; name an attribute',
    ],
    [
      'a bad scope',
      { userSearch: { baseDN: 'dc=x', username: 'uid', scope: 'base' } },
      'connectors[ldap].config.userSearch.scope: expected "sub" or "one", got "base"',
    ],
    [
      'a bad filter',
      { userSearch: { baseDN: 'dc=x', username: 'uid', filter: '(objectClass=person' } },
      'connectors[ldap].config.userSearch.filter: not a valid LDAP filter (RFC 4515): unbalanced parentheses: 1 ")" missing',
    ],
    [
      'emailSuffix without nameAttr',
      { userSearch: { baseDN: 'dc=x', username: 'uid', emailSuffix: 'example.com' } },
      'connectors[ldap].config.userSearch.nameAttr: required when emailSuffix is set',
    ],
    [
      'an extensible match as idAttr',
      { userSearch: { baseDN: 'dc=x', username: 'uid', idAttr: 'member:1.2.3:' } },
      'connectors[ldap].config.userSearch.idAttr: expected an attribute name, got "member:1.2.3:"',
    ],
    [
      'groups without matchers',
      { groupSearch: { baseDN: 'dc=x', nameAttr: 'cn' } },
      'connectors[ldap].config.groupSearch.userMatchers: required when groupSearch.baseDN is set (a list of {userAttr, groupAttr}, or the older userAttr and groupAttr keys)',
    ],
    [
      'groups without nameAttr',
      { groupSearch: { baseDN: 'dc=x', userMatchers: [{ userAttr: 'DN', groupAttr: 'member' }] } },
      'connectors[ldap].config.groupSearch.nameAttr: required when groupSearch.baseDN is set',
    ],
    [
      'a matcher without groupAttr',
      { groupSearch: { baseDN: 'dc=x', nameAttr: 'cn', userMatchers: [{ userAttr: 'DN' }] } },
      'connectors[ldap].config.groupSearch.userMatchers[0].groupAttr: required',
    ],
    [
      'a misspelt matcher key',
      {
        groupSearch: {
          baseDN: 'dc=x',
          nameAttr: 'cn',
          userMatchers: [{ userAttr: 'DN', groupAtr: 'member' }],
        },
      },
      'connectors[ldap].config.groupSearch.userMatchers[0].groupAtr: not a userMatchers key',
    ],
    [
      'a bad recursionGroupAttr',
      {
        groupSearch: {
          baseDN: 'dc=x',
          nameAttr: 'cn',
          userMatchers: [{ userAttr: 'DN', groupAttr: 'member', recursionGroupAttr: 'member of' }],
        },
      },
      'connectors[ldap].config.groupSearch.userMatchers[0].recursionGroupAttr: expected an attribute name, got "member of"',
    ],
    [
      'the same key twice',
      { bindDN: 'a', BindDN: 'b', bindPW: 'x' },
      'connectors[ldap].config.bindDN: given more than once ("bindDN", "BindDN"); keys are case-insensitive',
    ],
    [
      'clientCert without clientKey',
      { clientCert: '/c.pem' },
      'connectors[ldap].config.clientKey: required when clientCert is set',
    ],
  ])('%s', (_what, extra, expected) => {
    const raw = { ...minimal(), ...extra };
    for (const [k, v] of Object.entries(raw)) if (v === undefined) delete (raw as Record<string, unknown>)[k];
    expect(problem(raw)).toBe(expected);
  });

  it('refuses unreadable or certificate-less CA files and bad rootCAData', () => {
    expect(problem(minimal({ rootCA: '/missing.pem' }))).toBe(
      "connectors[ldap].config.rootCA: cannot read /missing.pem: ENOENT: no such file, open '/missing.pem'",
    );
    expect(problem(minimal({ rootCA: '/empty.pem' }), { '/empty.pem': 'hello' })).toBe(
      'connectors[ldap].config.rootCA: no PEM certificates found',
    );
    expect(problem(minimal({ rootCAData: 'not base64!' }))).toBe(
      'connectors[ldap].config.rootCAData: expected base64-encoded PEM certificates',
    );
    expect(problem(minimal({ rootCAData: Buffer.from(CA_PEM).toString('base64') }))).toMatch(
      /^connectors\[ldap\]\.config\.rootCAData: certificate 1 does not parse: /,
    );
  });
});
