import type { GrantType } from '../config/types.js';
import type { Client, Connector as ConnectorEntity } from '../storage/storage.js';
import { OAuthError } from './errors.js';

// Who may use what (Dex's main branch): a client's allowedConnectors, a connector's grantTypes and a
// client's grantTypes (Latchkey). Checked wherever a connector or grant is used — the chooser page, /auth
// with connector_id, and every token grant — so that no path forgets one.

/** A client with allowedConnectors may log users in only through those (absent or empty: any). */
export function clientMayUseConnector(
  client: Pick<Client, 'allowedConnectors'>,
  connectorID: string,
): boolean {
  const allowed = client.allowedConnectors;
  return allowed === undefined || allowed.length === 0 || allowed.includes(connectorID);
}

/** A connector with grantTypes serves only those grants (absent or empty: any). */
export function connectorAllowsGrant(entity: Pick<ConnectorEntity, 'grantTypes'>, grant: GrantType): boolean {
  const allowed = entity.grantTypes;
  return allowed === undefined || allowed.length === 0 || allowed.includes(grant);
}

/** Throws the token endpoint's error when `client` may not use `entity` for `grant`. */
export function checkConnectorUse(
  client: Pick<Client, 'id' | 'allowedConnectors'>,
  entity: Pick<ConnectorEntity, 'id' | 'grantTypes'>,
  grant: GrantType,
): void {
  if (!clientMayUseConnector(client, entity.id)) {
    throw new OAuthError(
      'invalid_grant',
      `Client ${JSON.stringify(client.id)} may not log in through connector ${JSON.stringify(entity.id)}.`,
    );
  }
  if (!connectorAllowsGrant(entity, grant)) {
    throw new OAuthError(
      'unauthorized_client',
      `Connector ${JSON.stringify(entity.id)} does not serve the ${grant} grant.`,
    );
  }
}

/**
 * Whether `client` may use `grant`, of the grants the server serves (`served`): a client's grantTypes
 * restrict it; client_credentials needs a confidential client that opted in, unless the server enables it
 * for every confidential client (oauth2.grantTypes).
 */
export function clientMayUseGrant(
  client: Pick<Client, 'public' | 'grantTypes'>,
  grant: GrantType,
  served: readonly GrantType[],
): boolean {
  const listed = client.grantTypes;
  if (grant === 'client_credentials') {
    if (client.public) return false;
    return listed !== undefined ? listed.includes(grant) : served.includes(grant);
  }
  if (!served.includes(grant)) return false;
  return listed === undefined || listed.includes(grant);
}
