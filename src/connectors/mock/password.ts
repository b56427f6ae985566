import { createHash, timingSafeEqual } from 'node:crypto';
import type { ConnectorScopes, Identity, PasswordConnector, RefreshConnector } from '../connector.js';
import { kilgoreTrout } from './identity.js';

// `type: mockPassword` — a test connector, as in Dex: one fixed username and password yield Kilgore Trout.

export interface MockPasswordOptions {
  username: string;
  password: string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Equal-length digests make the comparison constant-time whatever the lengths of the inputs. */
const sameSecret = (given: string, expected: Buffer): boolean => timingSafeEqual(digest(given), expected);

export class MockPasswordConnector implements PasswordConnector, RefreshConnector {
  readonly kind = 'password' as const;
  private readonly username: Buffer;
  private readonly password: Buffer;

  constructor(options: MockPasswordOptions) {
    this.username = digest(options.username);
    this.password = digest(options.password);
  }

  prompt(): string {
    return 'Username';
  }

  async login(_scopes: ConnectorScopes, username: string, password: string): Promise<Identity | undefined> {
    // Both are compared every time, so the time taken does not say which one was wrong.
    const usernameOK = sameSecret(username, this.username);
    const passwordOK = sameSecret(password, this.password);
    return usernameOK && passwordOK ? kilgoreTrout() : undefined;
  }

  async refresh(_scopes: ConnectorScopes, identity: Identity): Promise<Identity> {
    const refreshed = kilgoreTrout();
    if (identity.connectorData !== undefined) refreshed.connectorData = identity.connectorData;
    return refreshed;
  }
}
