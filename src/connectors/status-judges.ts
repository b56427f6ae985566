import type { StatusJudges } from '../storage/kubernetes/status.js';
import { checkHash } from './local/bcrypt-hash.js';
import { CONNECTOR_TYPE_NAMES, connectorType } from './types.js';

// The connectors' rules that the status of Password and Connector objects reports (storage/kubernetes/
// status.ts), handed to the storage by the server: the same functions login and the registry apply.

export const statusJudges: StatusJudges = {
  passwordHash(hash) {
    const check = checkHash(hash);
    return check.ok ? undefined : check.reason;
  },
  connectorType(type) {
    return connectorType(type) !== undefined
      ? undefined
      : `connector type ${JSON.stringify(type)} is not supported by Latchkey (supported: ${CONNECTOR_TYPE_NAMES.join(', ')})`;
  },
};
