import { randomBytes } from 'node:crypto';
import { ResultCodeError, type Entry, type Filter } from 'ldapts';
import {
  ConnectorError,
  RefreshDeniedError,
  type ConnectorScopes,
  type Identity,
  type PasswordConnector,
  type RefreshConnector,
} from '../connector.js';
import type { ConnectorLogger } from '../deps.js';
import { parseLdapConfig, type LdapConfig, type SearchScope } from './config.js';
import {
  ConnectionLimiter,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_TIMEOUTS,
  describeResult,
  endpointOf,
  withSession,
  type Endpoint,
  type LdapOperation,
  type LdapSession,
  type LdapTimeouts,
} from './connection.js';
import { groupFilter, userFilter, type AttributeSpec } from './filters.js';

// `type: ldap` (reference §6): find the user with the service account, bind as the user with the password,
// map attributes to claims, look groups up. Where Dex is wrong, this is not: the login name is escaped once;
// an empty password never reaches a bind; an unknown name costs a bind like a wrong password; two matching
// entries are an error, not "the first one"; Active Directory's userAccountControl ACCOUNTDISABLE bit is
// honoured at login and refresh; nested groups are walked with cycles suppressed.

export interface LdapConnectorOptions {
  /** The connector id, for logs. */
  id: string;
  logger?: ConnectorLogger;
  timeouts?: Partial<LdapTimeouts>;
  maxConnections?: number;
  /** Sees every operation on the wire (instrumentation for tests; never given a password). */
  onOperation?: (op: LdapOperation) => void;
}

/** Dex's refreshData JSON (`{"username": …, "entry": {"DN": …}}`), so either side can refresh the other's tokens. */
interface LdapConnectorData {
  username: string;
  entry: { DN: string };
}

/** Result codes of a refused user bind: wrong password; or (Dex treats it alike) a password-policy refusal. */
const INVALID_CREDENTIALS = 49;
const CONSTRAINT_VIOLATION = 19;
/** userAccountControl's ACCOUNTDISABLE bit (MS-ADTS 2.2.16). */
const ACCOUNTDISABLE = 0x2;
/** Beyond this many groups for one user the walk stops (and says so): a directory bug, not a real user. */
const MAX_GROUPS = 5_000;

const UNAVAILABLE = 'Login through the directory is unavailable at the moment; please try again later.';
const UNUSABLE_ENTRY =
  'Your directory account cannot be used to sign in here; please contact your administrator.';

export class LdapConnector implements PasswordConnector, RefreshConnector {
  readonly kind = 'password' as const;
  private readonly endpoint: Endpoint;
  private readonly timeouts: LdapTimeouts;
  private readonly limiter: ConnectionLimiter;
  private readonly logger: ConnectorLogger | undefined;
  private readonly onOperation: (op: LdapOperation) => void;
  /** Bound (and refused) in place of an unknown user, so that costs what a wrong password costs. */
  private readonly unknownUserDN: string;
  private readonly userAttributes: string[];

  constructor(
    private readonly config: LdapConfig,
    private readonly options: LdapConnectorOptions,
  ) {
    this.endpoint = endpointOf(config);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.limiter = new ConnectionLimiter(options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
    this.logger = options.logger;
    this.onOperation = options.onOperation ?? (() => {});
    this.unknownUserDN = `cn=latchkey-no-such-user-${randomBytes(8).toString('hex')},${config.userSearch.baseDN}`;
    const us = config.userSearch;
    this.userAttributes = requested([
      us.idAttr,
      ...(us.emailSuffix === undefined ? [us.emailAttr] : []),
      us.nameAttr,
      us.preferredUsernameAttr,
      ...(config.groupSearch?.userMatchers.map((m) => m.userAttr) ?? []),
      'userAccountControl',
    ]);
  }

  prompt(): string {
    return this.config.usernamePrompt;
  }

  async login(scopes: ConnectorScopes, username: string, password: string): Promise<Identity | undefined> {
    // An empty password would make the user bind an unauthenticated bind, which servers accept (RFC 4513
    // §5.1.2): refuse before touching the directory.
    if (password === '' || username === '') return undefined;
    return withSession(this.endpoint, this.sessionOptions(), async (session) => {
      await this.bindService(session);
      const entry = await this.findUser(session, username);
      const passwordOK = await this.bindUser(
        session,
        entry?.dn ?? this.unknownUserDN,
        password,
        entry !== undefined,
      );
      if (entry === undefined) {
        this.log('info', { reason: 'no entry matches the login name' }, 'ldap login refused');
        return undefined;
      }
      if (!passwordOK) {
        this.log('info', { dn: entry.dn, reason: 'invalid password' }, 'ldap login refused');
        return undefined;
      }
      if (disabled(entry)) {
        this.log(
          'info',
          { dn: entry.dn, reason: 'account disabled (userAccountControl)' },
          'ldap login refused',
        );
        return undefined;
      }
      const identity = this.identityFrom(entry);
      if (scopes.groups && this.config.groupSearch !== undefined) {
        // Back to the service account: group entries are read with its rights, not the user's.
        await this.bindService(session);
        identity.groups = await this.groups(session, entry);
      }
      if (scopes.offlineAccess) {
        const data: LdapConnectorData = { username, entry: { DN: entry.dn } };
        identity.connectorData = new TextEncoder().encode(JSON.stringify(data));
      }
      this.log('debug', { dn: entry.dn, groups: identity.groups.length }, 'ldap login succeeded');
      return identity;
    });
  }

  async refresh(scopes: ConnectorScopes, identity: Identity): Promise<Identity> {
    const data = readConnectorData(identity.connectorData);
    if (data === undefined) throw new RefreshDeniedError('the refresh token holds no LDAP login name');
    return withSession(this.endpoint, this.sessionOptions(), async (session) => {
      await this.bindService(session);
      const entry = await this.findUser(session, data.username);
      if (entry === undefined) {
        throw new RefreshDeniedError(`no directory entry matches ${JSON.stringify(data.username)} any more`);
      }
      if (entry.dn.toLowerCase() !== data.entry.DN.toLowerCase()) {
        throw new RefreshDeniedError(
          `${JSON.stringify(data.username)} now maps to ${entry.dn}, not ${data.entry.DN}: another account`,
        );
      }
      if (disabled(entry)) throw new RefreshDeniedError(`${entry.dn} is disabled (userAccountControl)`);
      const fresh = this.identityFrom(entry);
      if (scopes.groups && this.config.groupSearch !== undefined) {
        fresh.groups = await this.groups(session, entry);
      }
      if (identity.connectorData !== undefined) fresh.connectorData = identity.connectorData;
      return fresh;
    });
  }

  private sessionOptions() {
    return { timeouts: this.timeouts, limiter: this.limiter, observe: this.onOperation };
  }

  private async bindService(session: LdapSession): Promise<void> {
    const { bindDN, bindPW } = this.config;
    try {
      await session.bind(bindDN, bindPW, bindDN === '' ? 'anonymous' : 'service');
    } catch (e) {
      if (!(e instanceof ResultCodeError)) throw e;
      throw new ConnectorError(
        `ldap: ${bindDN === '' ? 'anonymous bind' : `bind as ${bindDN}`} refused by ${this.endpoint.label}: ` +
          `${describeResult(e)}; check bindDN and bindPW`,
        UNAVAILABLE,
        { cause: e },
      );
    }
  }

  /** The one entry the login name matches; undefined for none; ConnectorError for several. */
  private async findUser(session: LdapSession, username: string): Promise<Entry | undefined> {
    const us = this.config.userSearch;
    const filter = userFilter(us, username);
    const entries = await this.search(session, us.baseDN, us.scope, filter, this.userAttributes, 2);
    if (entries.length > 1) {
      this.log(
        'error',
        { filter: filter.toString(), baseDN: us.baseDN, dns: entries.map((e) => e.dn) },
        'ldap: more than one entry matches the login name; refusing to pick one (make userSearch.filter or username narrower)',
      );
      throw new ConnectorError(
        `ldap: more than one entry under ${us.baseDN} matches ${filter.toString()}`,
        UNUSABLE_ENTRY,
      );
    }
    return entries[0];
  }

  /** Binds with the password; false when the directory says the credentials are wrong. */
  private async bindUser(
    session: LdapSession,
    dn: string,
    password: string,
    known: boolean,
  ): Promise<boolean> {
    try {
      await session.bind(dn, password, known ? 'user' : 'unknown-user');
      return known;
    } catch (e) {
      if (!(e instanceof ResultCodeError)) throw e;
      if (!known || e.code === INVALID_CREDENTIALS || e.code === CONSTRAINT_VIOLATION) return false;
      throw new ConnectorError(`ldap: bind as ${dn} failed: ${describeResult(e)}`, UNAVAILABLE, { cause: e });
    }
  }

  private async search(
    session: LdapSession,
    base: string,
    scope: SearchScope,
    filter: Filter,
    attributes: string[],
    sizeLimit?: number,
  ): Promise<Entry[]> {
    this.log('debug', { baseDN: base, scope, filter: filter.toString() }, 'ldap search');
    try {
      return await session.search(base, {
        filter,
        scope,
        attributes,
        ...(sizeLimit !== undefined ? { sizeLimit } : {}),
      });
    } catch (e) {
      if (!(e instanceof ResultCodeError)) throw e;
      throw new ConnectorError(
        `ldap: search under ${base} with ${filter.toString()} failed: ${describeResult(e)}`,
        UNAVAILABLE,
        { cause: e },
      );
    }
  }

  private identityFrom(entry: Entry): Identity {
    const us = this.config.userSearch;
    const missing: string[] = [];
    const first = (attr: string): string => {
      const value = attributeValues(entry, attr)[0] ?? '';
      if (value === '') missing.push(attr);
      return value;
    };
    const userID = first(us.idAttr);
    const username = us.nameAttr !== undefined ? first(us.nameAttr) : '';
    const preferredUsername = us.preferredUsernameAttr !== undefined ? first(us.preferredUsernameAttr) : '';
    const email = us.emailSuffix !== undefined ? `${username}@${us.emailSuffix}` : first(us.emailAttr);
    if (missing.length > 0) {
      throw new ConnectorError(
        `ldap: entry ${entry.dn} lacks the attribute(s) ${missing.join(', ')} that userSearch maps to claims`,
        UNUSABLE_ENTRY,
      );
    }
    return {
      userID,
      username,
      preferredUsername,
      email,
      emailVerified: this.config.emailVerified,
      groups: [],
    };
  }

  /**
   * The names of the user's groups: for each matcher and each value of its userAttr, the groups whose
   * groupAttr holds it; with recursionGroupAttr, then the groups holding those groups' DNs, and so on, each
   * group visited once (cycles end there).
   */
  private async groups(session: LdapSession, user: Entry): Promise<string[]> {
    const gs = this.config.groupSearch!;
    const attributes = requested([gs.nameAttr]);
    const names = new Set<string>();
    const search = (spec: AttributeSpec, value: string) =>
      this.search(session, gs.baseDN, gs.scope, groupFilter(gs, spec, value), attributes);
    for (const matcher of gs.userMatchers) {
      const visited = new Set<string>();
      const admit = (entries: Entry[]): Entry[] => {
        const fresh: Entry[] = [];
        for (const group of entries) {
          const key = group.dn.toLowerCase();
          if (visited.has(key)) continue;
          visited.add(key);
          const name = attributeValues(group, gs.nameAttr)[0];
          if (name === undefined || name === '') {
            throw new ConnectorError(
              `ldap: group ${group.dn} lacks groupSearch.nameAttr ${gs.nameAttr}`,
              UNUSABLE_ENTRY,
            );
          }
          names.add(name);
          fresh.push(group);
        }
        return fresh;
      };
      for (const value of attributeValues(user, matcher.userAttr)) {
        let frontier = admit(await search(matcher.groupAttr, value));
        const parentAttr = matcher.recursionGroupAttr;
        while (parentAttr !== undefined && frontier.length > 0) {
          const next: Entry[] = [];
          for (const group of frontier) next.push(...admit(await search(parentAttr, group.dn)));
          frontier = next;
          if (visited.size > MAX_GROUPS) {
            this.log('warn', { dn: user.dn, groups: visited.size }, 'ldap: nested group walk stopped');
            break;
          }
        }
      }
    }
    return [...names];
  }

  private log(level: keyof ConnectorLogger, o: object, msg: string): void {
    this.logger?.[level]({ connector: this.options.id, ...o }, msg);
  }
}

/** `type: ldap` from a stored connector entity; throws ConnectorConfigError naming the key path. */
export function openLdapConnector(
  id: string,
  rawConfig: unknown,
  opts: Omit<LdapConnectorOptions, 'id'> = {},
): LdapConnector {
  const { config, warnings } = parseLdapConfig(id, rawConfig);
  for (const warning of warnings) opts.logger?.warn({ connector: id }, warning);
  return new LdapConnector(config, { id, ...opts });
}

/** The values of an attribute as strings; `DN` is the entry's DN. Attribute names match case-insensitively. */
export function attributeValues(entry: Entry, name: string): string[] {
  if (name === 'DN') return [entry.dn];
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'dn' || key.toLowerCase() !== wanted) continue;
    const list = Array.isArray(value) ? value : [value];
    return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
  }
  return [];
}

/**
 * Active Directory's ACCOUNTDISABLE bit, when the entry has userAccountControl. A value that is not a number
 * counts as disabled: an account whose state cannot be read is not signed in.
 */
export function disabled(entry: Entry): boolean {
  const value = attributeValues(entry, 'userAccountControl')[0];
  if (value === undefined) return false;
  if (!/^-?\d+$/.test(value.trim())) return true;
  return (Number(value.trim()) & ACCOUNTDISABLE) !== 0;
}

/** The attribute list for a search: each name once, never the pseudo-attribute DN. */
function requested(names: (string | undefined)[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of names) {
    if (name === undefined || name === 'DN' || seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    out.push(name);
  }
  return out;
}

function readConnectorData(data: Uint8Array | undefined): LdapConnectorData | undefined {
  if (data === undefined || data.length === 0) return undefined;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(data)) as Partial<LdapConnectorData>;
    if (typeof parsed.username !== 'string' || parsed.username === '') return undefined;
    if (typeof parsed.entry?.DN !== 'string' || parsed.entry.DN === '') return undefined;
    return { username: parsed.username, entry: { DN: parsed.entry.DN } };
  } catch {
    return undefined;
  }
}
