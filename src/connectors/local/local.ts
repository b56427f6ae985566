import { isNotFound } from '../../storage/errors.js';
import type { Password, Storage } from '../../storage/storage.js';
import {
  ConnectorError,
  RefreshDeniedError,
  type ConnectorScopes,
  type Identity,
  type PasswordConnector,
  type RefreshConnector,
} from '../connector.js';
import { DUMMY_HASH, bcryptCompare, checkHash, type CompareFn } from './bcrypt-hash.js';

// The password database (`enablePasswordDB`): static passwords from the config and stored ones, both read
// through storage. Every login attempt costs one bcrypt comparison, whether or not the account exists, its
// hash is usable or the password is empty, so response time does not tell an attacker which accounts exist.

export const LOCAL_CONNECTOR_ID = 'local';

export interface LocalConnectorOptions {
  /** The connector id, for logs. */
  id?: string;
  logger?: { warn(o: object, msg?: string): void };
  /** bcrypt's compare unless a test substitutes it. */
  compare?: CompareFn;
}

/** What the connector keeps for a refresh: the key it looks the user up by. */
interface LocalConnectorData {
  email: string;
}

const UNAVAILABLE = 'Login is unavailable at the moment; please try again later.';

export class LocalConnector implements PasswordConnector, RefreshConnector {
  readonly kind = 'password' as const;
  private readonly id: string;
  private readonly logger: LocalConnectorOptions['logger'];
  private readonly compare: CompareFn;

  constructor(
    private readonly storage: Storage,
    options: LocalConnectorOptions = {},
  ) {
    this.id = options.id ?? LOCAL_CONNECTOR_ID;
    this.logger = options.logger;
    this.compare = options.compare ?? bcryptCompare;
  }

  prompt(): string {
    return 'Email Address';
  }

  async login(scopes: ConnectorScopes, username: string, password: string): Promise<Identity | undefined> {
    const email = username.toLowerCase();
    const entry = email === '' ? undefined : await this.find(email);
    let hash: string | undefined;
    if (entry !== undefined) {
      const check = checkHash(entry.hash);
      if (check.ok) hash = check.hash;
      else this.logger?.warn({ connector: this.id, userID: entry.userID }, `login refused: ${check.reason}`);
    }
    // An empty password is never accepted, not even against a hash of the empty string.
    const candidate = password === '' ? undefined : hash;
    const matches = await this.compare(password, candidate ?? DUMMY_HASH);
    return candidate !== undefined && matches && entry !== undefined
      ? identityOf(entry, scopes.offlineAccess)
      : undefined;
  }

  async refresh(_scopes: ConnectorScopes, identity: Identity): Promise<Identity> {
    const email = storedEmail(identity.connectorData) ?? identity.email;
    let entry: Password;
    try {
      entry = await this.storage.getPassword(email);
    } catch (e) {
      if (isNotFound(e)) throw new RefreshDeniedError('the password entry was deleted', { cause: e });
      throw new ConnectorError('cannot read the password database', UNAVAILABLE, { cause: e });
    }
    // Somebody deleted the user and created another with the same email: not the same person.
    if (entry.userID !== identity.userID) {
      throw new RefreshDeniedError('the password entry now belongs to another user ID');
    }
    return identityOf(entry, true);
  }

  private async find(email: string): Promise<Password | undefined> {
    try {
      return await this.storage.getPassword(email);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new ConnectorError('cannot read the password database', UNAVAILABLE, { cause: e });
    }
  }
}

function identityOf(p: Password, offlineAccess: boolean): Identity {
  const identity: Identity = {
    userID: p.userID,
    username: p.name || p.username,
    preferredUsername: p.preferredUsername ?? '',
    email: p.email,
    emailVerified: p.emailVerified ?? true,
    groups: [...p.groups],
  };
  if (offlineAccess) {
    const data: LocalConnectorData = { email: p.email };
    identity.connectorData = new TextEncoder().encode(JSON.stringify(data));
  }
  return identity;
}

/** The email kept in connectorData, or undefined when there is none (tokens from before it was kept). */
function storedEmail(connectorData: Uint8Array | undefined): string | undefined {
  if (connectorData === undefined || connectorData.length === 0) return undefined;
  try {
    const data = JSON.parse(new TextDecoder().decode(connectorData)) as Partial<LocalConnectorData>;
    return typeof data.email === 'string' && data.email !== '' ? data.email : undefined;
  } catch {
    return undefined;
  }
}
