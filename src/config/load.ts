// The configuration loader: a Dex-style YAML file → one validated, typed Config (types.ts), or a ConfigError
// listing every problem as `<yaml.path>: <what was expected>`.
//
// Placeholders: a value still holding the REPLACE-ME marker of a shipped file is a problem (placeholders.ts).
//
// Listeners: a file without web.http and web.https loads, because `latchkey serve --web-http-addr …` may
// supply them. After applying its flags the CLI calls requireListener(config).

import { open } from 'node:fs/promises';
import { z } from 'zod';
import { buildConfig } from './build.js';
import { envLookup } from './expand-env.js';
import { normalize } from './normalize.js';
import { ConfigError, Findings, type PathSegment } from './problems.js';
import { withPlaceholderProblems } from './placeholders.js';
import { fileSchema, SUPPORTED_CONNECTOR_TYPES, SUPPORTED_STORAGE_TYPES } from './schema.js';
import type { Config, ConnectorConfig } from './types.js';
import { readYaml } from './yaml.js';

export { ConfigError } from './problems.js';
export { parseGoDuration } from './duration.js';
export { SUPPORTED_CONNECTOR_TYPES, SUPPORTED_STORAGE_TYPES };

/** Config files are small; a bigger one is a mistake (or an attack on the parser). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadResult {
  config: Config;
  /** Unknown keys, deprecated keys and other things worth a log line; never fatal. */
  warnings: string[];
}

/** Go's strconv.ParseBool. */
function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** DEX_EXPAND_ENV (default true), overridden by LATCHKEY_EXPAND_ENV. */
function expandEnvEnabled(env: NodeJS.ProcessEnv, f: Findings): boolean {
  for (const name of ['LATCHKEY_EXPAND_ENV', 'DEX_EXPAND_ENV']) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = parseGoBool(raw);
    if (value !== undefined) return value;
    f.warnings.push(`${name}: ${JSON.stringify(raw)} is not a boolean (ignored)`);
  }
  return true;
}

/** Where Dex expands $VAR: string values inside storage.config, connectors[].config and signer.config. */
function expandsBelow(path: readonly PathSegment[]): boolean {
  return (
    (path.length === 2 && (path[0] === 'storage' || path[0] === 'signer') && path[1] === 'config') ||
    (path.length === 3 && path[0] === 'connectors' && typeof path[1] === 'number' && path[2] === 'config')
  );
}

/**
 * Parses and validates a configuration text. Throws ConfigError with every problem found.
 * @param env where idEnv, secretEnv, hashFromEnv, $VAR, DEX_/LATCHKEY_ variables are read (default process.env)
 * @param baseDir when given, relative file paths in the file are resolved against it; otherwise they are
 *   left relative (to the working directory), as Dex does
 */
export function parseConfig(
  yamlText: string,
  env: NodeJS.ProcessEnv = process.env,
  baseDir?: string,
): LoadResult {
  const bytes = Buffer.byteLength(yamlText, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) {
    throw new ConfigError([`the config file is too large (${bytes} bytes; at most ${MAX_CONFIG_BYTES})`]);
  }
  if (yamlText.trim() === '') throw new ConfigError(['the config file is empty']);

  const read = readYaml(yamlText);
  const f = new Findings();
  f.warnings.push(...read.warnings);
  if (read.problems.length > 0) throw new ConfigError(read.problems);

  const value = read.value;
  if (value === null || value === undefined) throw new ConfigError(['the config file is empty']);
  if (typeof value !== 'object' || Array.isArray(value)) {
    const got = Array.isArray(value) ? 'a list' : JSON.stringify(String(value));
    throw new ConfigError([`the config file must be a mapping (issuer: …, storage: …), got ${got}`]);
  }

  const expand = expandEnvEnabled(env, f) ? envLookup(env) : undefined;
  const normalized = normalize(value, fileSchema, { findings: f, expand, expandsBelow }) as Record<
    string,
    unknown
  >;
  const config = buildConfig(normalized, { env, baseDir }, f);
  const problems = withPlaceholderProblems(value, f.problems);
  if (!config || problems.length > 0) throw new ConfigError(problems);
  return { config, warnings: f.warnings };
}

/** Reads and parses a configuration file (see parseConfig). Relative paths inside stay relative to the cwd. */
export async function loadConfigFile(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadResult> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > MAX_CONFIG_BYTES) {
        throw new ConfigError(
          [`the config file is too large (${size} bytes; at most ${MAX_CONFIG_BYTES})`],
          path,
        );
      }
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const err = e as NodeJS.ErrnoException;
    const reason =
      err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new ConfigError([`cannot read the config file ${path}: ${reason}`], path);
  }
  try {
    return parseConfig(text, env);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.problems, path);
    throw e;
  }
}

/**
 * The checks that need the CLI's flags applied first: a listener, and TLS files for HTTPS.
 * Throws ConfigError.
 */
export function requireListener(config: Config): void {
  const problems: string[] = [];
  if (!config.web.http && !config.web.https) {
    problems.push('web: expected web.http or web.https (or --web-http-addr / --web-https-addr)');
  }
  if (config.web.https) {
    if (!config.web.tlsCert) problems.push('web.tlsCert: required with web.https');
    if (!config.web.tlsKey) problems.push('web.tlsKey: required with web.https');
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * The connectors to open: the file's, plus the password database's `{id: local, type: local, name: Email}`
 * when enablePasswordDB is on (Dex adds it the same way; config.connectors holds only the file's).
 */
export function effectiveConnectors(config: Config): ConnectorConfig[] {
  const local: ConnectorConfig[] = config.enablePasswordDB
    ? [{ type: 'local', id: 'local', name: 'Email', config: {} }]
    : [];
  return [...config.connectors, ...local];
}

/** The JSON Schema (draft 2020-12) of the file format, for editors (`latchkey config-schema`). */
export function configJsonSchema(): object {
  const schema = z.toJSONSchema(fileSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  return {
    ...schema,
    title: 'Latchkey configuration',
  };
}
