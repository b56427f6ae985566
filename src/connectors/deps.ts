import type { Storage } from '../storage/storage.js';
import { systemClock, type Clock } from '../util/clock.js';
import { httpClientFactory, type HttpClientFactory } from './http.js';

// What a connector is given when it is opened. Everything with an effect on the outside world (time, the
// network, shutdown) comes in here, so tests substitute it and nothing reaches into globals.

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
  clock?: Clock;
  /** Aborted when the server stops: ends background work (discovery retries) and in-flight upstream calls. */
  signal?: AbortSignal;
  /** Builds each connector's HTTP client; default: undici with a per-request deadline. */
  http?: HttpClientFactory;
}

export interface ResolvedConnectorDeps {
  storage: Storage;
  logger: ConnectorLogger;
  clock: Clock;
  signal: AbortSignal;
  http: HttpClientFactory;
}

const silent: ConnectorLogger = { warn() {}, info() {}, debug() {}, error() {} };

export function resolveDeps(deps: ConnectorDeps): ResolvedConnectorDeps {
  const signal = deps.signal ?? new AbortController().signal;
  return {
    storage: deps.storage,
    logger: deps.logger ?? silent,
    clock: deps.clock ?? systemClock,
    signal,
    http: deps.http ?? httpClientFactory({ signal }),
  };
}
