import type { Connector as ConnectorEntity } from '../../storage/storage.js';
import { ConnectorConfigError, type ConfigSection } from '../config-keys.js';
import type { Connector } from '../connector.js';
import type { ResolvedConnectorDeps } from '../deps.js';

/** Opens a `type: oauth` connector. */
export function openOAuthConnector(
  entity: ConnectorEntity,
  config: ConfigSection,
  _deps: ResolvedConnectorDeps,
): Connector {
  throw new ConnectorConfigError(`${config.path}`, `type oauth is being implemented (${entity.id})`);
}
