import { openConnector } from '../connectors/registry.js';
import { MemoryStorage } from '../storage/memory/memory.js';
import type { Connector } from '../storage/storage.js';
import { bytesText, isObject } from './dex-encoding.js';
import type { DexConnector } from './dex-model.js';
import { differingFields, type Decision } from './write.js';

// Connectors created through Dex's API → Latchkey's stored connectors. A connector Latchkey cannot run
// (a type it does not support, a config it refuses) is not imported: it would only fail at every login.

export type ConvertedConnector = { entity: Connector } | { skip: string };

export function connectorFromDex(d: DexConnector): ConvertedConnector {
  let config: unknown;
  try {
    config = d.config.length === 0 ? {} : JSON.parse(bytesText(d.config));
  } catch {
    return { skip: 'its config is not JSON' };
  }
  if (!isObject(config)) return { skip: 'its config is not a JSON object' };
  const entity: Connector = {
    id: d.id,
    type: d.type,
    name: d.name,
    config,
    ...(d.grantTypes && d.grantTypes.length > 0 ? { grantTypes: [...d.grantTypes] } : {}),
  };
  const problem = openingProblem(entity);
  return problem === undefined ? { entity } : { skip: problem };
}

/** Opens the connector as Latchkey would (opening contacts no upstream); the refusal, if any. */
function openingProblem(entity: Connector): string | undefined {
  const stopped = new AbortController();
  stopped.abort();
  try {
    const connector = openConnector(entity, { storage: new MemoryStorage(), signal: stopped.signal });
    connector.close?.();
    return undefined;
  } catch (e) {
    return `Latchkey cannot run it: ${(e as Error).message}`;
  }
}

const COMPARED = ['type', 'name', 'config', 'grantTypes'] as const;

export function compareConnector(existing: Connector, incoming: Connector): Decision {
  const norm = (c: Connector): Connector => ({
    ...c,
    grantTypes: c.grantTypes?.length ? c.grantTypes : undefined,
  });
  const fields = differingFields(norm(existing), norm(incoming), COMPARED);
  return fields.length === 0 ? { kind: 'unchanged' } : { kind: 'conflict', fields };
}
