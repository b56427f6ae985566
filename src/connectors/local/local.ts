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
import { MIN_COST, bcryptCompare, bcryptCost, checkHash, dummyHash, type CompareFn } from './bcrypt-hash.js';

// The password database (`enablePasswordDB`): static passwords from the config and stored ones, both read
// through storage. Every login attempt costs one bcrypt comparison, whether or not the account exists, its
// hash is usable or the password is empty, so response time does not tell an attacker which accounts exist.
// The comparison for a missing account uses a dummy hash at the highest cost among the real ones: learnt once
// from a scan of the passwords (static ones included) at the first login, then from every hash a login
// reads, so a dearer hash stored later raises it without another scan.

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
  /** The highest bcrypt cost among the usable hashes seen so far. */
  private highestCost = MIN_COST;
  /** The one scan of the passwords' costs; undefined until the first login, or after it failed. */
  private costScan: Promise<void> | undefined;

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
      if (check.ok) {
        hash = check.hash;
        this.noteCost(hash);
      } else
        this.logger?.warn({ connector: this.id, userID: entry.userID }, `login refused: ${check.reason}`);
    }
    // An empty password is never accepted, not even against a hash of the empty string.
    const candidate = password === '' ? undefined : hash;
    const matches = await this.compare(password, candidate ?? (await this.dummy()));
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

  /** A dummy hash as dear as the dearest real one (see the top of this file). */
  private async dummy(): Promise<string> {
    this.costScan ??= this.scanCosts().catch((err: unknown) => {
      // Try again at the next login; meanwhile the costs seen so far stand.
      this.costScan = undefined;
      this.logger?.warn({ connector: this.id, err }, 'cannot read the password costs');
    });
    await this.costScan;
    return dummyHash(this.highestCost);
  }

  private async scanCosts(): Promise<void> {
    let next: string | undefined;
    do {
      const page = await this.storage.listPasswords(next === undefined ? {} : { continue: next });
      for (const p of page.items) {
        const check = checkHash(p.hash);
        if (check.ok) this.noteCost(check.hash);
      }
      next = page.continue;
    } while (next !== undefined);
  }

  private noteCost(hash: string): void {
    const cost = bcryptCost(hash) ?? MIN_COST;
    if (cost > this.highestCost) {
      this.highestCost = cost;
      // Made now, so the next unknown user does not wait for it.
      void dummyHash(cost).catch(() => {});
    }
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
