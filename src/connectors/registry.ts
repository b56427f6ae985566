import { isNotFound } from '../storage/errors.js';
import type { Connector as ConnectorEntity, ListOptions, Storage } from '../storage/storage.js';
import { ConfigSection, ConnectorConfigError, connectorPath } from './config-keys.js';
import type { Connector } from './connector.js';
import { LDAP_CONFIG_KEYS } from './ldap/config.js';
import { openLdapConnector } from './ldap/ldap.js';
import { LocalConnector } from './local/local.js';
import { MockCallbackConnector } from './mock/callback.js';
import { MockPasswordConnector } from './mock/password.js';

// Connectors are stored entities (from the config file through the static overlay, or created as resources);
// the registry turns an entity into a working connector and keeps it until the entity changes.

export interface ConnectorLogger {
  warn(o: object, msg?: string): void;
  info(o: object, msg?: string): void;
  debug(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface ConnectorDeps {
  /** What the password database reads. */
  storage: Storage;
  logger?: ConnectorLogger;
}

type Factory = (entity: ConnectorEntity, config: ConfigSection, deps: ConnectorDeps) => Connector;

interface ConnectorType {
  /** Every key the type reads, for warning about the others (typos Go would silently ignore). */
  keys: readonly string[];
  open: Factory;
}

const TYPES: Record<string, ConnectorType> = {
  local: {
    keys: [],
    open: (entity, _config, deps) => new LocalConnector(deps.storage, { id: entity.id, logger: deps.logger }),
  },
  ldap: {
    keys: LDAP_CONFIG_KEYS,
    open: (entity, _config, deps) => openLdapConnector(entity.id, entity.config, { logger: deps.logger }),
  },
  mockCallback: {
    keys: ['failRefresh'],
    open: (_entity, config) => new MockCallbackConnector({ failRefresh: config.boolean('failRefresh') }),
  },
  mockPassword: {
    keys: ['username', 'password'],
    open: (_entity, config) =>
      new MockPasswordConnector({
        username: config.requiredString('username'),
        password: config.requiredString('password'),
      }),
  },
};

/** Whether this build can open connectors of `type` (the config accepts a few more, implemented later). */
export function isImplementedConnectorType(type: string): boolean {
  return Object.hasOwn(TYPES, type);
}

/**
 * Builds the connector a stored entity describes. Throws ConnectorConfigError (an Error whose message starts
 * with `connectors[<id>].config.<key>`) for a bad config, and an Error for a type this build cannot open.
 */
export function openConnector(entity: ConnectorEntity, deps: ConnectorDeps): Connector {
  const type = Object.hasOwn(TYPES, entity.type) ? TYPES[entity.type] : undefined;
  if (type === undefined) {
    throw new ConnectorConfigError(
      `${connectorPath(entity.id)}.type`,
      `connector type ${JSON.stringify(entity.type)} is not supported yet`,
    );
  }
  const config = ConfigSection.of(`${connectorPath(entity.id)}.config`, entity.config);
  const connector = type.open(entity, config, deps);
  // The keys as written, without their path: the message names the path once.
  const unknown = config.unknownKeys(type.keys).map((path) => path.slice(config.path.length + 1));
  if (unknown.length > 0) {
    deps.logger?.warn(
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

  constructor(
    private readonly storage: Storage,
    private readonly deps: ConnectorDeps,
  ) {}

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
      this.cache.delete(id);
      return undefined;
    }
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.resourceVersion === entity.resourceVersion) {
      return { entity, connector: cached.connector };
    }
    const connector = openConnector(entity, this.deps);
    if (cached !== undefined) {
      this.deps.logger?.info(
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
