import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';
import type { LoggerConfig } from '../config/types.js';
import { formatLogfmt } from './logfmt.js';

export type { Logger };

// Keys whose values are credentials. They are removed wherever they appear at the first two levels of a log
// record, whatever a caller passes, so a careless `log.info({ body })` cannot leak a secret.
const SECRET_KEYS = [
  'password',
  'client_secret',
  'clientSecret',
  'secret',
  'code',
  'code_verifier',
  'refresh_token',
  'access_token',
  'id_token',
  'token',
  'subject_token',
  'authorization',
  'cookie',
  'bindPW',
  'privateJwk',
];

// Dex's names for log/slog's levels. pino's trace and fatal have no slog counterpart and fold into the nearest.
const DEX_LEVELS: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
};

function redactPaths(): string[] {
  const paths = new Set<string>();
  // Top-level keys are renamed to snake_case before redaction runs, nested ones are not: censor both spellings.
  for (const k of SECRET_KEYS.flatMap((k) => [k, snakeCase(k)])) {
    paths.add(k);
    paths.add(`*.${k}`);
  }
  paths.add('req.headers.authorization');
  paths.add('req.headers.cookie');
  paths.add('res.headers["set-cookie"]');
  return [...paths];
}

/**
 * The process logger, in the shape Dex users' log pipelines already parse: `time` in RFC 3339, Dex's level
 * names (DEBUG, INFO, WARN, ERROR), `msg`, and snake_case field names whatever a call site wrote. `json` is
 * one JSON object a line; `text` is logfmt (logfmt.ts). Secrets are censored, and `logger.excludeFields`
 * (for PII such as email) are dropped entirely — from a line's own fields and from those bound to a child
 * logger (a request's, a component's) alike, as Dex's excluding handler does.
 */
export function createLogger(cfg: LoggerConfig, destination?: DestinationStream): Logger {
  const shape = fieldShaper(cfg.excludeFields);
  const options: LoggerOptions = {
    level: cfg.level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths(), censor: '[redacted]' },
    formatters: {
      level: (label) => ({ level: DEX_LEVELS[label] ?? label.toUpperCase() }),
      bindings: shape,
      log: shape,
    },
  };
  const stderr = destination ?? pino.destination({ dest: 2, sync: true });
  return shapeChildBindings(pino(options, cfg.format === 'json' ? stderr : logfmtStream(stderr)), shape);
}

/**
 * pino applies `formatters.bindings` to the root logger's base fields only: `child()` resets it, so fields
 * bound with `logger.child({ email })` would escape `excludeFields` and the naming rule. Children are created
 * with `Object.create(parent)`, so replacing `child` on the root covers every generation.
 */
function shapeChildBindings(
  root: Logger,
  shape: (obj: Record<string, unknown>) => Record<string, unknown>,
): Logger {
  const pinoChild = root.child as unknown as (
    this: Logger,
    bindings: Record<string, unknown>,
    options?: unknown,
  ) => Logger;
  Object.defineProperty(root, 'child', {
    configurable: true,
    writable: true,
    value: function (this: Logger, bindings: Record<string, unknown>, options?: unknown) {
      return pinoChild.call(this, shape(bindings), options);
    },
  });
  return root;
}

/**
 * Renames a record's top-level fields to snake_case (`keySet` → `key_set`, `userID` → `user_id`), Dex's one
 * case, and drops the excluded ones, matched in either spelling so `excludeFields: [userID]` still works.
 */
function fieldShaper(
  excludeFields: string[],
): (obj: Record<string, unknown> | undefined) => Record<string, unknown> {
  const excluded = new Set(excludeFields.flatMap((f) => [f, snakeCase(f)]));
  // pino also passes the root logger's `base`, which is undefined here.
  return (obj: Record<string, unknown> | undefined) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(obj ?? {})) {
      const name = snakeCase(key);
      if (!excluded.has(key) && !excluded.has(name)) out[name] = value;
    }
    return out;
  };
}

// Field names come from code, not from requests, so this cache stays small; the bound is a backstop.
const snakeNames = new Map<string, string>();

/** `drainDelayMs` → `drain_delay_ms`, `userID` → `user_id`, `request_id` unchanged. */
export function snakeCase(name: string): string {
  let snake = snakeNames.get(name);
  if (snake === undefined) {
    snake = name
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
      .toLowerCase();
    if (snakeNames.size < 1_000) snakeNames.set(name, snake);
  }
  return snake;
}

/** pino writes each record as one JSON line; this turns it into a logfmt line on its way to `target`. */
function logfmtStream(target: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        target.write(line);
        return;
      }
      target.write(`${formatLogfmt(record)}\n`);
    },
  };
}
