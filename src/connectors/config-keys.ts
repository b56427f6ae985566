// A connector's `config` as a Dex YAML file writes it. Dex decodes it with Go's encoding/json, which matches
// keys case-insensitively, so `userName:` configures `username`; files written for Dex must keep working.
// Where Go silently lets the last of two spellings win, we refuse: the file is ambiguous.

/** A connector's configuration is unusable; the message starts with the key path (`connectors[id].config.key`). */
export class ConnectorConfigError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'ConnectorConfigError';
  }
}

export const connectorPath = (connectorID: string): string => `connectors[${connectorID}]`;

const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v;

/** Reads one connector's config by key, case-insensitively, naming the key path in every error. */
export class ConnectorConfigReader {
  private readonly config: Record<string, unknown>;

  constructor(
    private readonly connectorID: string,
    config: unknown,
  ) {
    if (config === undefined || config === null) {
      this.config = {};
    } else if (typeof config === 'object' && !Array.isArray(config)) {
      this.config = config as Record<string, unknown>;
    } else {
      throw new ConnectorConfigError(
        `${connectorPath(connectorID)}.config`,
        `expected a mapping, got ${describe(config)}`,
      );
    }
  }

  /** `connectors[<id>].config.<key>` */
  path(key: string): string {
    return `${connectorPath(this.connectorID)}.config.${key}`;
  }

  /** The key as written and its value; `undefined` when absent or null (Go leaves the field unset then). */
  private find(key: string): { written: string; value: unknown } | undefined {
    const wanted = key.toLowerCase();
    const matches = Object.keys(this.config).filter((k) => k.toLowerCase() === wanted);
    if (matches.length > 1) {
      throw new ConnectorConfigError(
        this.path(key),
        `given more than once (${matches.map((k) => JSON.stringify(k)).join(', ')}); keys are case-insensitive`,
      );
    }
    const written = matches[0];
    if (written === undefined) return undefined;
    const value = this.config[written];
    return value === null || value === undefined ? undefined : { written, value };
  }

  optionalString(key: string): string | undefined {
    const found = this.find(key);
    if (found === undefined) return undefined;
    if (typeof found.value !== 'string') {
      throw new ConnectorConfigError(
        this.path(found.written),
        `expected a string, got ${describe(found.value)}`,
      );
    }
    return found.value;
  }

  /** A string that must be present and non-empty. */
  requiredString(key: string): string {
    const value = this.optionalString(key);
    if (value === undefined || value === '') throw new ConnectorConfigError(this.path(key), 'required');
    return value;
  }

  optionalBoolean(key: string): boolean | undefined {
    const found = this.find(key);
    if (found === undefined) return undefined;
    if (typeof found.value !== 'boolean') {
      throw new ConnectorConfigError(
        this.path(found.written),
        `expected true or false, got ${describe(found.value)}`,
      );
    }
    return found.value;
  }

  /** The keys as written that match none of `known` (for a warning: Go ignores them, a typo goes unnoticed). */
  unknownKeys(known: readonly string[]): string[] {
    const lower = new Set(known.map((k) => k.toLowerCase()));
    return Object.keys(this.config).filter((k) => !lower.has(k.toLowerCase()));
  }
}
