import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import type { LoggerConfig } from '../config/types.js';

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

function redactPaths(exclude: string[]): string[] {
  const paths = new Set<string>();
  for (const k of SECRET_KEYS) {
    paths.add(k);
    paths.add(`*.${k}`);
  }
  paths.add('req.headers.authorization');
  paths.add('req.headers.cookie');
  paths.add('res.headers["set-cookie"]');
  return [...paths, ...exclude];
}

/**
 * The process logger: JSON lines or human-readable text on stderr. Secrets are censored and
 * `logger.excludeFields` (for PII such as email) are dropped entirely.
 */
export function createLogger(cfg: LoggerConfig, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: cfg.level,
    base: undefined,
    redact: { paths: redactPaths([]), censor: '[redacted]' },
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => dropFields(obj, cfg.excludeFields),
    },
  };
  const stream =
    destination ??
    (cfg.format === 'json'
      ? pino.destination({ dest: 2, sync: true })
      : pretty({
          destination: 2,
          sync: true,
          colorize: false,
          translateTime: 'SYS:standard',
          ignore: 'pid,hostname',
        }));
  return pino(options, stream);
}

function dropFields(obj: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  if (fields.length === 0) return obj;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!fields.includes(k)) out[k] = v;
  return out;
}
