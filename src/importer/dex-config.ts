import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { envLookup, expandEnvDeep } from '../config/expand-env.js';
import { isObject } from './dex-encoding.js';

// Where a Dex installation keeps its state: named on the command line, or read from the storage section
// of Dex's own config file (reference §4/§5). Only Dex's Kubernetes and SQLite storage can be imported.

export type DexSourceSpec =
  | { type: 'kubernetes'; inCluster: boolean; kubeConfigFile?: string; namespace?: string }
  | { type: 'sqlite3'; file: string };

export const SUPPORTED_SOURCES = ['kubernetes', 'sqlite3'] as const;

/** A source that cannot be imported from: the message says so and what to do instead. */
export class UnsupportedSourceError extends Error {
  constructor(type: string) {
    super(unsupportedMessage(type));
    this.name = 'UnsupportedSourceError';
  }
}

export function unsupportedMessage(type: string): string {
  const known = ['postgres', 'mysql', 'etcd'].includes(type);
  return (
    `importing from Dex's ${JSON.stringify(type)} storage is not supported` +
    (known ? ' (Latchkey can import Dex state only from its kubernetes and sqlite3 storage)' : '') +
    `; supported sources: ${SUPPORTED_SOURCES.join(', ')}.` +
    (known
      ? ' Users of that installation log in again at Latchkey; clients and passwords can be moved to ' +
        "Latchkey's config file or created as resources."
      : '')
  );
}

/** The source named by Dex's config file; `namespace` overrides Dex's (Dex takes it from its kubeconfig). */
export async function sourceFromDexConfig(
  file: string,
  env: NodeJS.ProcessEnv,
  namespace?: string,
): Promise<DexSourceSpec> {
  const raw = parse(await readFile(file, 'utf8')) as unknown;
  // Dex expands $VAR and ${VAR} in its config unless DEX_EXPAND_ENV=false.
  const doc = env.DEX_EXPAND_ENV === 'false' ? raw : expandEnvDeep(raw, envLookup(env));
  const storage = isObject(doc) && isObject(doc.storage) ? doc.storage : undefined;
  const type = storage && typeof storage.type === 'string' ? storage.type : undefined;
  if (!storage || !type) throw new Error(`${file}: no storage.type (is this Dex's config file?)`);
  const config = isObject(storage.config) ? storage.config : {};
  switch (type) {
    case 'kubernetes': {
      const kubeConfigFile = typeof config.kubeConfigFile === 'string' ? config.kubeConfigFile : undefined;
      const inCluster = config.inCluster === true;
      if (!inCluster && !kubeConfigFile) {
        throw new Error(`${file}: storage.config needs inCluster: true or kubeConfigFile`);
      }
      return {
        type: 'kubernetes',
        inCluster,
        ...(kubeConfigFile && !inCluster ? { kubeConfigFile } : {}),
        ...(namespace ? { namespace } : {}),
      };
    }
    case 'sqlite3': {
      if (typeof config.file !== 'string' || config.file === '')
        throw new Error(`${file}: storage.config.file is not set`);
      if (config.file === ':memory:')
        throw new Error(`${file}: Dex's storage is an in-memory SQLite database; there is nothing to import`);
      return { type: 'sqlite3', file: config.file };
    }
    case 'memory':
      throw new Error(
        `${file}: Dex's storage is memory; its state is gone when Dex stops, nothing to import`,
      );
    default:
      throw new UnsupportedSourceError(type);
  }
}
