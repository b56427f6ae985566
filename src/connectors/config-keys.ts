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

/**
 * One mapping of a connector's config (or a section nested in it), read case-insensitively, every error
 * naming its path. `ConfigSection.of(connectorPath(id) + '.config', config)` reads a whole config.
 */
export class ConfigSection {
  constructor(
    readonly path: string,
    private readonly values: Record<string, unknown>,
  ) {}

  static of(path: string, value: unknown): ConfigSection {
    if (value === undefined || value === null) return new ConfigSection(path, {});
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ConnectorConfigError(path, `expected a mapping, got ${describe(value)}`);
    }
    return new ConfigSection(path, value as Record<string, unknown>);
  }

  keyPath(key: string): string {
    return `${this.path}.${key}`;
  }

  private find(key: string): { path: string; value: unknown } | undefined {
    const wanted = key.toLowerCase();
    const matches = Object.keys(this.values).filter((k) => k.toLowerCase() === wanted);
    if (matches.length > 1) {
      throw new ConnectorConfigError(
        this.keyPath(key),
        `given more than once (${matches.map((k) => JSON.stringify(k)).join(', ')}); keys are case-insensitive`,
      );
    }
    const written = matches[0];
    if (written === undefined) return undefined;
    const value = this.values[written];
    return value === null || value === undefined ? undefined : { path: this.keyPath(written), value };
  }

  /** A string; an empty string counts as absent (Go cannot tell them apart). */
  string(key: string): string | undefined {
    const found = this.find(key);
    if (found === undefined) return undefined;
    if (typeof found.value !== 'string') {
      throw new ConnectorConfigError(found.path, `expected a string, got ${describe(found.value)}`);
    }
    return found.value === '' ? undefined : found.value;
  }

  requiredString(key: string, why = 'required'): string {
    const value = this.string(key);
    if (value === undefined) throw new ConnectorConfigError(this.keyPath(key), why);
    return value;
  }

  boolean(key: string): boolean {
    const found = this.find(key);
    if (found === undefined) return false;
    if (typeof found.value !== 'boolean') {
      throw new ConnectorConfigError(found.path, `expected true or false, got ${describe(found.value)}`);
    }
    return found.value;
  }

  section(key: string): ConfigSection | undefined {
    const found = this.find(key);
    return found === undefined ? undefined : ConfigSection.of(found.path, found.value);
  }

  /** A string or a list of non-empty strings, as `[path, value]` pairs. */
  strings(key: string): { path: string; value: string }[] | undefined {
    const found = this.find(key);
    if (found === undefined) return undefined;
    if (typeof found.value === 'string') {
      return found.value === '' ? undefined : [{ path: found.path, value: found.value }];
    }
    if (!Array.isArray(found.value)) {
      throw new ConnectorConfigError(
        found.path,
        `expected a string or a list of strings, got ${describe(found.value)}`,
      );
    }
    return found.value.map((v, i) => {
      const path = `${found.path}[${i}]`;
      if (typeof v !== 'string' || v === '') {
        throw new ConnectorConfigError(
          path,
          `expected a non-empty string, got ${v === '' ? 'an empty string' : describe(v)}`,
        );
      }
      return { path, value: v };
    });
  }

  list(key: string): { path: string; items: unknown[] } | undefined {
    const found = this.find(key);
    if (found === undefined) return undefined;
    if (!Array.isArray(found.value)) {
      throw new ConnectorConfigError(found.path, `expected a list, got ${describe(found.value)}`);
    }
    return { path: found.path, items: found.value };
  }

  /** Whether `key` is written at all (any case), even as an empty string or null. */
  has(key: string): boolean {
    const wanted = key.toLowerCase();
    return Object.keys(this.values).some((k) => k.toLowerCase() === wanted);
  }

  /** A boolean that tells "not written" (undefined) from false, like Go's `*bool`. */
  optionalBoolean(key: string): boolean | undefined {
    return this.has(key) ? this.boolean(key) : undefined;
  }

  /** An absolute http(s) URL, checked now so a typo names its key instead of failing every login. */
  url(key: string): string | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConnectorConfigError(this.keyPath(key), `${JSON.stringify(value)} is not an absolute URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ConnectorConfigError(this.keyPath(key), `${JSON.stringify(value)} is not an http(s) URL`);
    }
    return value;
  }

  requiredURL(key: string): string {
    const value = this.url(key);
    if (value === undefined) throw new ConnectorConfigError(this.keyPath(key), 'required');
    return value;
  }

  /** A string or a list of strings, as values (see strings() for their paths). */
  stringValues(key: string): string[] {
    return (this.strings(key) ?? []).map((s) => s.value);
  }

  /**
   * A regular expression written for Dex (Go's RE2). JavaScript reads RE2's everyday syntax the same way; a
   * leading `(?i)` (RE2's flag group, unknown to JavaScript) becomes the `i` flag. A pattern JavaScript
   * cannot compile is an error naming its key, never a filter silently dropped (Dex only warns, and then
   * lets everything through).
   */
  regexp(key: string): RegExp | undefined {
    const pattern = this.string(key);
    if (pattern === undefined) return undefined;
    const caseless = pattern.startsWith('(?i)');
    try {
      return new RegExp(caseless ? pattern.slice(4) : pattern, caseless ? 'iu' : 'u');
    } catch (e) {
      throw new ConnectorConfigError(
        this.keyPath(key),
        `${JSON.stringify(pattern)} is not a valid regular expression: ${(e as Error).message}`,
      );
    }
  }

  unknownKeys(known: readonly string[]): string[] {
    const lower = new Set(known.map((k) => k.toLowerCase()));
    return Object.keys(this.values)
      .filter((k) => !lower.has(k.toLowerCase()))
      .map((k) => this.keyPath(k));
  }
}
