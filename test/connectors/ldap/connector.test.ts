import { createServer, type Server, type Socket } from 'node:net';
import { ConnectorError, RefreshDeniedError, type Identity } from '../../../src/connectors/connector.js';
import { UNREACHABLE, UNTRUSTED, type LdapOperation } from '../../../src/connectors/ldap/connection.js';
import { openLdapConnector, type LdapConnectorOptions } from '../../../src/connectors/ldap/ldap.js';
import { freePort } from '../../helpers/net.js';
import { SERVICE_DN, SERVICE_PW, USERS_DN, startSlapd, type Slapd } from '../../helpers/slapd.js';
import { RecordingLogger, decode, offline, scopes } from '../helpers.js';

// The LDAP connector against a real OpenLDAP (test/helpers/slapd.ts) holding the AD-like fixture directory.

const dn = (cn: string) => `cn=${cn},${USERS_DN}`;
const JANE = dn('Jane Doe');
const JANE_GROUPS = ['developers', 'engineering', 'loop-a', 'loop-b', 'staff'];
const SPECIAL: [login: string, password: string, dn: string, email: string][] = [
  ["o'brien", "o'brien-password", dn("O'Brien"), 'obrien@example.com'],
  ['a*b', 'a*b-password', dn('a*b'), 'astarb@example.com'],
  ['x(y)', 'x(y)-password', dn('x(y)'), 'xy@example.com'],
  ['back\\slash', 'back\\slash-password', dn('back\\5Cslash'), 'backslash@example.com'],
];

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSlapd();
});
afterAll(async () => {
  await slapd?.stop();
});

/** The config the tests start from: LDAPS with the test CA, the AD service account, nested groups. */
function adConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
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
    ...extra,
  };
}

function open(config: Record<string, unknown>, opts: Partial<LdapConnectorOptions> = {}) {
  const logger = new RecordingLogger();
  const ops: LdapOperation[] = [];
  const connector = openLdapConnector('ldap', config, {
    logger,
    onOperation: (op) => ops.push(op),
    ...opts,
  });
  return { connector, logger, ops };
}

/** adConfig with preferred_username from sAMAccountName (which only the AD entries have). */
function withPreferred(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const config = adConfig(extra);
  return {
    ...config,
    userSearch: { ...(config.userSearch as object), preferredUsernameAttr: 'sAMAccountName' },
  };
}

/** The shape of what went over the wire: kinds, and whose bind. */
const trace = (ops: LdapOperation[]) => ops.map((op) => (op.kind === 'bind' ? `bind:${op.as}` : op.kind));

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

describe('ldap connector against slapd: login', () => {
  it('logs a plain (non-AD) user in by uid', async () => {
    const { connector } = open(adConfig());
    expect(connector.prompt()).toBe('Login name');
    expect(await connector.login(scopes, 'plain', 'plain-password')).toEqual<Identity>({
      userID: `uid=plain,${USERS_DN}`,
      username: 'Plain Person',
      preferredUsername: '',
      email: 'plain@example.com',
      emailVerified: true,
      groups: ['developers', 'engineering', 'staff'],
    });
  });

  it('says email_verified false for every user when emailVerified is false', async () => {
    const { connector } = open(adConfig({ emailVerified: false }));
    expect(await connector.login(scopes, 'plain', 'plain-password')).toMatchObject({
      email: 'plain@example.com',
      emailVerified: false,
    });
  });

  it('logs an AD user in by sAMAccountName and by userPrincipalName, with nested groups', async () => {
    const { connector } = open(withPreferred());
    for (const login of ['jane', 'jane@example.com', 'JANE@EXAMPLE.COM']) {
      const identity = await connector.login(scopes, login, 'jane-password');
      expect(identity).toEqual<Identity>({
        userID: JANE,
        username: 'Jane Doe',
        preferredUsername: 'jane',
        email: 'jane@example.com',
        emailVerified: true,
        groups: expect.arrayContaining(JANE_GROUPS) as unknown as string[],
      });
      expect([...identity!.groups].sort()).toEqual(JANE_GROUPS);
    }
  });

  it.each(SPECIAL)('logs %j in: the name is escaped exactly once', async (login, password, userDN, email) => {
    const { connector, ops } = open(withPreferred());
    const identity = await connector.login(scopes, login, password);
    expect(identity).toMatchObject({ userID: userDN, email, preferredUsername: login });
    expect([...identity!.groups].sort()).toEqual(['developers', 'engineering', 'staff']);
    expect(await connector.login(scopes, `${login}@example.com`, password)).toMatchObject({ userID: userDN });
    const search = ops.find((op) => op.kind === 'search');
    expect(search).toMatchObject({ kind: 'search', base: USERS_DN, scope: 'sub' });
  });

  it('refuses wrong passwords, unknown users and filter injection with the same work on the wire', async () => {
    const attempts: [string, string][] = [
      ['jane', 'wrong-password'],
      ['nobody', 'jane-password'],
      ['*)(uid=*', 'jane-password'],
      ['*', 'jane-password'],
      ['jane*', 'jane-password'],
      ['*)(|(objectClass=*', 'x'],
    ];
    const traces: string[][] = [];
    for (const [login, password] of attempts) {
      const { connector, ops } = open(adConfig());
      expect(await connector.login(offline, login, password)).toBeUndefined();
      traces.push(trace(ops));
    }
    const wrongPassword = ['connect', 'bind:service', 'search', 'bind:user', 'close'];
    const unknownUser = ['connect', 'bind:service', 'search', 'bind:unknown-user', 'close'];
    expect(traces).toEqual([wrongPassword, unknownUser, unknownUser, unknownUser, unknownUser, unknownUser]);
  });

  it('binds the unknown user with the password given, against a DN that does not exist', async () => {
    const { connector, ops, logger } = open(adConfig());
    expect(await connector.login(scopes, '*)(uid=*', 'pw')).toBeUndefined();
    const search = ops.find((op) => op.kind === 'search')!;
    expect(search).toMatchObject({
      filter:
        '(&(objectClass=person)(|(sAMAccountName=\\2a\\29\\28uid=\\2a)(userPrincipalName=\\2a\\29\\28uid=\\2a)(uid=\\2a\\29\\28uid=\\2a)))',
    });
    const bind = ops.find((op) => op.kind === 'bind' && op.as === 'unknown-user');
    expect(bind).toMatchObject({
      dn: expect.stringMatching(/^cn=latchkey-no-such-user-[0-9a-f]{16},cn=Users,/),
    });
    expect(logger.at('info').map((r) => r.obj)).toContainEqual({
      connector: 'ldap',
      reason: 'no entry matches the login name',
    });
  });

  it('refuses an empty password (or login) before any connection', async () => {
    const { connector, ops } = open(adConfig());
    expect(await connector.login(scopes, 'jane', '')).toBeUndefined();
    expect(await connector.login(scopes, '', 'jane-password')).toBeUndefined();
    expect(ops).toEqual([]);
  });

  it('refuses a disabled account (userAccountControl ACCOUNTDISABLE) even with the right password', async () => {
    const { connector, ops, logger } = open(adConfig());
    expect(await connector.login(scopes, 'dan', 'dan-password')).toBeUndefined();
    expect(await connector.login(scopes, 'dan@example.com', 'dan-password')).toBeUndefined();
    expect(trace(ops).slice(0, 5)).toEqual(['connect', 'bind:service', 'search', 'bind:user', 'close']);
    expect(logger.at('info').map((r) => r.obj)).toContainEqual({
      connector: 'ldap',
      dn: dn('Disabled Dan'),
      reason: 'account disabled (userAccountControl)',
    });
  });

  it('refuses to pick one of two matching entries: a ConnectorError, logged', async () => {
    const { connector, logger } = open(adConfig());
    const e = await failure(connector.login(scopes, 'twin', 'twin-password'));
    expect(e).toBeInstanceOf(ConnectorError);
    expect((e as ConnectorError).userMessage).toMatch(/contact your administrator/);
    expect(logger.at('error')).toHaveLength(1);
    expect(logger.at('error')[0]!.obj).toMatchObject({ dns: [dn('Twin One'), dn('Twin Two')] });
  });

  it('reads groups only when asked, then as the service account', async () => {
    const { connector, ops } = open(adConfig());
    expect(
      (await connector.login({ groups: false, offlineAccess: false }, 'jane', 'jane-password'))!.groups,
    ).toEqual([]);
    expect(trace(ops)).toEqual(['connect', 'bind:service', 'search', 'bind:user', 'close']);
    ops.length = 0;
    await connector.login(scopes, 'jane', 'jane-password');
    expect(trace(ops).slice(0, 5)).toEqual([
      'connect',
      'bind:service',
      'search',
      'bind:user',
      'bind:service',
    ]);
    // jane's two direct groups, then one search per group found to walk up: 2 + 5 group searches.
    expect(trace(ops).filter((k) => k === 'search')).toHaveLength(1 + 1 + 5);
  });

  it('without recursionGroupAttr, returns direct groups only; the legacy flat keys work too', async () => {
    const direct = open(
      adConfig({
        groupSearch: {
          baseDN: USERS_DN,
          filter: '(objectClass=group)',
          userAttr: 'DN',
          groupAttr: 'member',
          nameAttr: 'cn',
        },
      }),
    ).connector;
    expect([...(await direct.login(scopes, 'jane', 'jane-password'))!.groups].sort()).toEqual([
      'developers',
      'loop-a',
    ]);
  });

  it('sends an extensible-match groupAttr as one (member:distinguishedNameMatch: works on OpenLDAP)', async () => {
    const { connector, ops } = open(
      adConfig({
        groupSearch: {
          baseDN: USERS_DN,
          filter: '(objectClass=group)',
          userMatchers: [{ userAttr: 'DN', groupAttr: 'member:2.5.13.1:' }],
          nameAttr: 'cn',
        },
      }),
    );
    expect([...(await connector.login(scopes, 'x(y)', 'x(y)-password'))!.groups]).toEqual(['developers']);
    expect(ops.filter((op) => op.kind === 'search')[1]).toMatchObject({
      filter: `(&(objectClass=group)(member:2.5.13.1:=cn=x\\28y\\29,${USERS_DN}))`,
    });
  });

  it('builds the email from nameAttr and emailSuffix when configured', async () => {
    const { connector } = open(
      adConfig({
        userSearch: {
          baseDN: USERS_DN,
          username: 'sAMAccountName',
          idAttr: 'DN',
          nameAttr: 'sAMAccountName',
          emailSuffix: 'corp.example',
        },
      }),
    );
    expect(await connector.login(scopes, 'jane', 'jane-password')).toMatchObject({
      email: 'jane@corp.example',
    });
  });

  it('fails clearly when a mapped attribute is missing', async () => {
    const { connector } = open(
      adConfig({
        userSearch: { baseDN: USERS_DN, username: 'uid', idAttr: 'DN', emailAttr: 'userPrincipalName' },
      }),
    );
    const e = await failure(connector.login(scopes, 'plain', 'plain-password'));
    expect(e).toBeInstanceOf(ConnectorError);
    expect(e.message).toBe(
      `ldap: entry uid=plain,${USERS_DN} lacks the attribute(s) userPrincipalName that userSearch maps to claims`,
    );
  });

  it('with no bindDN binds anonymously; this directory, like AD, refuses to be searched so', async () => {
    const { connector, ops } = open(adConfig({ bindDN: undefined, bindPW: undefined }));
    const e = await failure(connector.login(scopes, 'jane', 'jane-password'));
    expect(e).toBeInstanceOf(ConnectorError);
    expect(e.message).toMatch(
      /^ldap: search under cn=Users,dc=example,dc=com with .* failed: insufficient access rights \(result code 50\)/,
    );
    expect(trace(ops)).toEqual(['connect', 'bind:anonymous', 'search', 'close']);
  });

  it('reports a refused service account without its password', async () => {
    const { connector, logger } = open(adConfig({ bindPW: 'not-the-service-password' }));
    const e = await failure(connector.login(scopes, 'jane', 'jane-password'));
    expect(e).toBeInstanceOf(ConnectorError);
    expect(e.message).toBe(
      `ldap: bind as ${SERVICE_DN} refused by ${slapd.ldapsHost}: invalid credentials (result code 49); check bindDN and bindPW`,
    );
    expect(JSON.stringify({ m: e.message, logs: logger.records })).not.toContain('not-the-service-password');
  });

  it('never puts the service password or user passwords in its logs', async () => {
    const { connector, logger } = open(adConfig(), {});
    await connector.login(offline, 'jane', 'jane-password');
    await connector.login(offline, 'jane', 'jane-wrong');
    await connector.login(offline, 'nobody', 'nobody-password');
    await failure(connector.login(offline, 'twin', 'twin-password'));
    const logged = JSON.stringify(logger.records);
    expect(logger.records.length).toBeGreaterThan(3);
    for (const secret of [SERVICE_PW, 'jane-password', 'jane-wrong', 'nobody-password', 'twin-password']) {
      expect(logged).not.toContain(secret);
    }
  });

  it('keeps at most maxConnections open at once', async () => {
    let openNow = 0;
    let peak = 0;
    const { connector } = open(adConfig(), {
      maxConnections: 2,
      onOperation: (op) => {
        if (op.kind === 'connect') peak = Math.max(peak, ++openNow);
        if (op.kind === 'close') openNow--;
      },
    });
    const logins = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        connector.login(scopes, i % 2 ? 'jane' : 'test', `${i % 2 ? 'jane' : 'test'}-password`),
      ),
    );
    expect(logins.every((l) => l !== undefined)).toBe(true);
    expect(peak).toBe(2);
    expect(openNow).toBe(0);
  });
});

describe('ldap connector against slapd: transport security', () => {
  it('trusts the directory through rootCAData (base64 PEM) as through rootCA', async () => {
    const { connector } = open(
      adConfig({ rootCA: undefined, rootCAData: Buffer.from(slapd.caPem).toString('base64') }),
    );
    expect(await connector.login(scopes, 'jane', 'jane-password')).toMatchObject({ userID: JANE });
  });

  it('fails with a clear TLS error when the certificate is not trusted (no rootCA, or the wrong CA)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const other = await mkdtemp(join(tmpdir(), 'latchkey-other-ca-'));
    try {
      execFileSync('bash', ['scripts/gencert.sh', '--ip', '127.0.0.1', '--out', other], { stdio: 'ignore' });
      for (const extra of [{ rootCA: undefined }, { rootCA: join(other, 'ca.pem') }]) {
        for (const transport of [{}, { host: slapd.ldapHost, startTLS: true }]) {
          const { connector, logger } = open(adConfig({ ...extra, ...transport }));
          const e = await failure(connector.login(scopes, 'jane', 'jane-password'));
          expect(e).toBeInstanceOf(ConnectorError);
          expect((e as ConnectorError).userMessage).toBe(UNTRUSTED);
          expect(e.message).toMatch(
            /^ldap: TLS with 127\.0\.0\.1:\d+ failed while (connecting|starting TLS): .*(self-signed|unable to (verify|get)).*; the directory's certificate is not trusted — set rootCA or rootCAData to the CA that signed it/,
          );
          expect(logger.records).toEqual([]);
        }
      }
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('accepts an untrusted certificate only with insecureSkipVerify', async () => {
    const { connector } = open(adConfig({ rootCA: undefined, insecureSkipVerify: true }));
    expect(await connector.login(scopes, 'jane', 'jane-password')).toMatchObject({ userID: JANE });
  });

  it('speaks StartTLS on the plain port, verifying the certificate', async () => {
    const { connector, ops } = open(adConfig({ host: slapd.ldapHost, startTLS: true }));
    expect(await connector.login(scopes, 'jane', 'jane-password')).toMatchObject({ userID: JANE });
    expect(trace(ops).slice(0, 3)).toEqual(['connect', 'startTLS', 'bind:service']);
    expect(ops[0]).toEqual({ kind: 'connect', url: `ldap://${slapd.ldapHost}` });
  });

  it('speaks plain LDAP with insecureNoSSL', async () => {
    const { connector } = open(adConfig({ host: slapd.ldapHost, insecureNoSSL: true, rootCA: undefined }));
    expect(await connector.login(scopes, 'jane', 'jane-password')).toMatchObject({ userID: JANE });
  });

  it('says the directory cannot be reached when nothing listens', async () => {
    const { connector } = open(adConfig({ host: `127.0.0.1:${await freePort()}` }));
    const e = await failure(connector.login(scopes, 'jane', 'jane-password'));
    expect(e).toBeInstanceOf(ConnectorError);
    expect((e as ConnectorError).userMessage).toBe(UNREACHABLE);
    expect(e.message).toMatch(
      /^ldap: 127\.0\.0\.1:\d+ cannot be reached while connecting: connect ECONNREFUSED/,
    );
  });

  describe('against a server that accepts connections and never answers', () => {
    let silent: Server;
    const sockets: Socket[] = [];
    let port: number;
    beforeAll(async () => {
      silent = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      port = (silent.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    });

    it.each([
      [
        'LDAPS (TLS handshake)',
        {},
        /did not answer within 600 ms|cannot be reached while connecting: Connection timeout/,
      ],
      [
        'plain LDAP (bind)',
        { insecureNoSSL: true },
        /cannot be reached while (connecting|binding): BindRequest: Operation timed out/,
      ],
      [
        'StartTLS (extended operation)',
        { startTLS: true },
        /cannot be reached while starting TLS: ExtendedRequest: Operation timed out/,
      ],
    ])('%s times out with a clear error', async (_what, transport, message) => {
      const { connector } = open(adConfig({ host: `127.0.0.1:${port}`, ...transport }), {
        timeouts: { connectMs: 300, operationMs: 300, totalMs: 600 },
      });
      const started = Date.now();
      const e = await failure(connector.login(scopes, 'jane', 'jane-password'));
      expect(e).toBeInstanceOf(ConnectorError);
      expect((e as ConnectorError).userMessage).toBe(UNREACHABLE);
      expect(e.message).toMatch(message);
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  describe('with a directory that demands client certificates', () => {
    let mtls: Slapd;
    beforeAll(async () => {
      mtls = await startSlapd({ verifyClient: 'demand' });
    });
    afterAll(async () => {
      await mtls?.stop();
    });

    it('presents clientCert/clientKey, and cannot connect without them', async () => {
      const base = { host: mtls.ldapsHost, rootCA: mtls.caFile };
      const without = open(adConfig(base)).connector;
      const e = await failure(without.login(scopes, 'jane', 'jane-password'));
      expect(e).toBeInstanceOf(ConnectorError);
      // TLS 1.3: the server refuses the missing certificate after the client's handshake is done, by closing.
      expect((e as ConnectorError).userMessage).toBe(UNREACHABLE);
      const withCert = open(
        adConfig({ ...base, clientCert: mtls.clientCertFile, clientKey: mtls.clientKeyFile }),
      ).connector;
      expect(await withCert.login(scopes, 'jane', 'jane-password')).toMatchObject({ userID: JANE });
    });
  });
});

describe('ldap connector against slapd: refresh', () => {
  const janeData = (identity: Identity) =>
    decode(identity.connectorData) as { username: string; entry: { DN: string } };

  it('keeps the login name and DN in Dex’s connectorData shape, and re-reads groups on refresh', async () => {
    const { connector } = open(adConfig());
    const identity = (await connector.login(offline, 'jane@example.com', 'jane-password'))!;
    expect(janeData(identity)).toEqual({ username: 'jane@example.com', entry: { DN: JANE } });
    expect(identity.groups).not.toContain('on-call');

    await slapd.modify(`dn: cn=on-call,${USERS_DN}\nchangetype: modify\nadd: member\nmember: ${JANE}\n`);
    const refreshed = await connector.refresh(offline, identity);
    expect([...refreshed.groups].sort()).toEqual([...JANE_GROUPS, 'on-call'].sort());
    expect(refreshed).toMatchObject({ userID: JANE, email: 'jane@example.com', username: 'Jane Doe' });
    expect(refreshed.connectorData).toEqual(identity.connectorData);

    await slapd.modify(`dn: cn=on-call,${USERS_DN}\nchangetype: modify\ndelete: member\nmember: ${JANE}\n`);
    expect((await connector.refresh(offline, identity)).groups).not.toContain('on-call');
  });

  it('accepts connectorData written by Dex', async () => {
    const { connector } = open(adConfig());
    const dexData = {
      username: 'jane',
      entry: { DN: JANE, Attributes: [{ Name: 'mail', Values: ['jane@example.com'] }] },
    };
    const identity: Identity = {
      userID: JANE,
      username: 'Jane Doe',
      preferredUsername: 'jane',
      email: 'jane@example.com',
      emailVerified: true,
      groups: [],
      connectorData: new TextEncoder().encode(JSON.stringify(dexData)),
    };
    expect(await connector.refresh({ groups: false, offlineAccess: true }, identity)).toMatchObject({
      userID: JANE,
      groups: [],
    });
  });

  it('denies a refresh for a disabled account, another entry under the name, or no stored name', async () => {
    const { connector } = open(adConfig());
    const identity = (await connector.login(offline, 'test', 'test-password'))!;
    const testDN = dn('Test User');
    await slapd.modify(
      `dn: ${testDN}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n`,
    );
    try {
      const e = await failure(connector.refresh(offline, identity));
      expect(e).toBeInstanceOf(RefreshDeniedError);
      expect(e.message).toBe(`${testDN} is disabled (userAccountControl)`);
    } finally {
      await slapd.modify(
        `dn: ${testDN}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 512\n`,
      );
    }
    expect(await connector.refresh(offline, identity)).toMatchObject({ userID: testDN });

    const moved = {
      ...identity,
      connectorData: new TextEncoder().encode(JSON.stringify({ username: 'jane', entry: { DN: testDN } })),
    };
    expect(await failure(connector.refresh(offline, moved))).toBeInstanceOf(RefreshDeniedError);
    const { connectorData: _none, ...withoutData } = identity;
    expect(await failure(connector.refresh(offline, withoutData))).toBeInstanceOf(RefreshDeniedError);
  });

  it('denies a refresh once the user is deleted', async () => {
    const { connector } = open(adConfig());
    const identity = (await connector.login(offline, "o'brien", "o'brien-password"))!;
    expect(await connector.refresh(offline, identity)).toMatchObject({ userID: dn("O'Brien") });
    await slapd.delete(dn("O'Brien"));
    const e = await failure(connector.refresh(offline, identity));
    expect(e).toBeInstanceOf(RefreshDeniedError);
    expect(e.message).toBe(`no directory entry matches "o'brien" any more`);
  });

  it('reports an unreachable directory on refresh as a ConnectorError, not a denial', async () => {
    const { connector } = open(adConfig());
    const identity = (await connector.login(offline, 'jane', 'jane-password'))!;
    const down = open(adConfig({ host: `127.0.0.1:${await freePort()}` })).connector;
    const e = await failure(down.refresh(offline, identity));
    expect(e).toBeInstanceOf(ConnectorError);
    expect((e as ConnectorError).userMessage).toBe(UNREACHABLE);
  });
});
