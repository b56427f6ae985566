import { isNotFound } from '../storage/errors.js';
import type { Connector as ConnectorEntity, ListOptions, Storage } from '../storage/storage.js';
import { ConfigSection, ConnectorConfigError, connectorPath } from './config-keys.js';
import type { Connector } from './connector.js';
import { resolveDeps, type ConnectorDeps, type ResolvedConnectorDeps } from './deps.js';
import { openGitHubConnector } from './github/github.js';
import { LocalConnector } from './local/local.js';
import { MockCallbackConnector } from './mock/callback.js';
import { MockPasswordConnector } from './mock/password.js';
import { openOAuthConnector } from './oauth/oauth.js';
import { openOidcConnector } from './oidc/oidc.js';
import { CONNECTOR_TYPES, connectorType, type ConnectorType } from './types.js';

export type { ConnectorDeps, ConnectorLogger } from './deps.js';

// Connectors are stored entities (from the config file through the static overlay, or created as resources);
// the registry turns an entity into a working connector and keeps it until the entity changes.

type Opener = (entity: ConnectorEntity, config: ConfigSection, deps: ResolvedConnectorDeps) => Connector;

/**
 * A type whose module is imported only when a connector of that type is first opened, because of what it
 * brings: LDAP's ldapts is of no use to an installation without an LDAP connector.
 */
interface LazyOpener {
  load: () => Promise<Opener>;
}

/** One opener per declared type: the compiler refuses a type in types.ts that cannot be opened. */
const OPENERS: { [T in ConnectorType]: Opener | LazyOpener } = {
  local: (entity, _config, deps) => new LocalConnector(deps.storage, { id: entity.id, logger: deps.logger }),
  ldap: {
    load: async () => {
      const { openLdapConnector } = await import('./ldap/ldap.js');
      return (entity, _config, deps) => openLdapConnector(entity.id, entity.config, { logger: deps.logger });
    },
  },
  oidc: openOidcConnector,
  github: openGitHubConnector,
  oauth: openOAuthConnector,
  mockCallback: (_entity, config) =>
    new MockCallbackConnector({ failRefresh: config.boolean('failRefresh') }),
  mockPassword: (_entity, config) =>
    new MockPasswordConnector({
      username: config.requiredString('username'),
      password: config.requiredString('password'),
    }),
};

/** The openers of lazily loaded types, once their modules are in. */
const loadedOpeners = new Map<ConnectorType, Opener>();

/** openConnector was called for a type whose code loadConnectorTypes has not loaded: a programming error. */
export class ConnectorTypeNotLoadedError extends Error {
  constructor(readonly type: ConnectorType) {
    super(`connector type ${type}: its code is not loaded (await loadConnectorTypes first)`);
    this.name = 'ConnectorTypeNotLoadedError';
  }
}

/**
 * Loads the code of these connector types, for openConnector; types already loaded, opened without loading
 * or unknown (openConnector reports those) cost nothing. ConnectorRegistry does this itself.
 */
export async function loadConnectorTypes(types: Iterable<string>): Promise<void> {
  for (const type of new Set(types)) {
    const declared = connectorType(type) === undefined ? undefined : (type as ConnectorType);
    if (declared === undefined || loadedOpeners.has(declared)) continue;
    const opener = OPENERS[declared];
    if (typeof opener !== 'function') loadedOpeners.set(declared, await opener.load());
  }
}

function openerOf(type: ConnectorType): Opener {
  const opener = OPENERS[type];
  if (typeof opener === 'function') return opener;
  const loaded = loadedOpeners.get(type);
  if (loaded === undefined) throw new ConnectorTypeNotLoadedError(type);
  return loaded;
}

/**
 * Builds the connector a stored entity describes. Throws ConnectorConfigError (an Error whose message starts
 * with `connectors[<id>].<key>`) for an unknown type or a bad config. Opening never contacts an upstream.
 * The type's code must be loaded (loadConnectorTypes) when it is one of the lazily loaded ones.
 */
export function openConnector(entity: ConnectorEntity, deps: ConnectorDeps): Connector {
  const declared = connectorType(entity.type);
  if (declared === undefined) {
    throw new ConnectorConfigError(
      `${connectorPath(entity.id)}.type`,
      `connector type ${JSON.stringify(entity.type)} is not supported by Latchkey ` +
        `(supported: ${Object.keys(CONNECTOR_TYPES).join(', ')})`,
    );
  }
  const resolved = resolveDeps(deps);
  const config = ConfigSection.of(`${connectorPath(entity.id)}.config`, entity.config);
  const connector = openerOf(entity.type as ConnectorType)(entity, config, resolved);
  // The keys as written, without their path: the message names the path once.
  const unknown = config.unknownKeys(declared.keys).map((path) => path.slice(config.path.length + 1));
  if (unknown.length > 0) {
    resolved.logger.warn(
      { connector: entity.id, keys: unknown },
      `${config.path}: ignoring keys that type ${entity.type} does not read`,
    );
  }
  return connector;
}

export interface OpenedConnector {
  entity: ConnectorEntity;
  connector: Connector;
}

interface CacheEntry extends OpenedConnector {
  resourceVersion: string | undefined;
}

/** The connectors in storage, opened on first use and reopened when their stored entity changes. */
export class ConnectorRegistry {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly deps: ResolvedConnectorDeps;

  constructor(
    private readonly storage: Storage,
    deps: ConnectorDeps,
  ) {
    // Resolved once: every connector shares the shutdown signal and the HTTP client defaults.
    this.deps = resolveDeps(deps);
  }

  /**
   * The connector with this id, or undefined when there is none. Reads the entity each time (storage serves
   * connectors from its cache) and reopens the connector only when its resourceVersion changed; an entity
   * without one (from the config file) never changes while the process runs.
   */
  async get(id: string): Promise<OpenedConnector | undefined> {
    let entity: ConnectorEntity;
    try {
      entity = await this.storage.getConnector(id);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      this.cache.get(id)?.connector.close?.();
      this.cache.delete(id);
      return undefined;
    }
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.resourceVersion === entity.resourceVersion) {
      return { entity, connector: cached.connector };
    }
    await loadConnectorTypes([entity.type]);
    const connector = openConnector(entity, this.deps);
    // The replaced one's background work (a discovery retry loop) must not outlive it.
    cached?.connector.close?.();
    if (cached !== undefined) {
      this.deps.logger.info(
        { connector: id, resourceVersion: entity.resourceVersion },
        'connector changed in storage; reopened',
      );
    }
    this.cache.set(id, { entity, connector, resourceVersion: entity.resourceVersion });
    return { entity, connector };
  }

  /** Every connector entity, sorted by name (case-insensitively) for the chooser page. */
  async list(): Promise<ConnectorEntity[]> {
    const all: ConnectorEntity[] = [];
    let opts: ListOptions = {};
    for (;;) {
      const page = await this.storage.listConnectors(opts);
      all.push(...page.items);
      if (page.continue === undefined) break;
      opts = { continue: page.continue };
    }
    return all.sort(byName);
  }
}

const collator = new Intl.Collator('en', { sensitivity: 'base' });

function byName(a: ConnectorEntity, b: ConnectorEntity): number {
  return collator.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
