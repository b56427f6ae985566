import type { Connector as ConnectorEntity } from '../../storage/storage.js';
import { ConnectorConfigError, type ConfigSection } from '../config-keys.js';
import type { Connector } from '../connector.js';
import type { ResolvedConnectorDeps } from '../deps.js';

/** Opens a `type: github` connector. */
export function openGitHubConnector(
  entity: ConnectorEntity,
  config: ConfigSection,
  _deps: ResolvedConnectorDeps,
): Connector {
  throw new ConnectorConfigError(`${config.path}`, `type github is being implemented (${entity.id})`);
}
