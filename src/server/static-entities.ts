import type { Config } from '../config/types.js';
import { effectiveConnectors } from '../config/load.js';
import type { Client, Connector, Password } from '../storage/storage.js';

/** The config's static clients, passwords and connectors, as the read-only storage overlay holds them. */
export function staticEntities(config: Config): {
  clients: Client[];
  passwords: Password[];
  connectors: Connector[];
} {
  const connectors: Connector[] = effectiveConnectors(config).map((c) => ({
    id: c.id,
    type: c.type,
    name: c.name,
    config: c.config,
    ...(c.grantTypes ? { grantTypes: [...c.grantTypes] } : {}),
  }));
  return {
    clients: config.staticClients.map((c) => ({ ...c })),
    passwords: config.staticPasswords.map((p) => ({
      email: p.email.toLowerCase(),
      hash: p.hash,
      username: p.username,
      ...(p.name !== undefined ? { name: p.name } : {}),
      ...(p.preferredUsername !== undefined ? { preferredUsername: p.preferredUsername } : {}),
      emailVerified: p.emailVerified,
      userID: p.userID,
      groups: [...p.groups],
    })),
    connectors,
  };
}
