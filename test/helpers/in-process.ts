import { parseConfig } from '../../src/config/load.js';
import type { HttpClientFactory } from '../../src/connectors/http.js';
import { createLogger } from '../../src/observability/logger.js';
import { startLatchkey, type RunningLatchkey } from '../../src/server/server.js';
import { ManualClock } from '../../src/util/clock.js';
import { freePort } from './net.js';

export interface InProcessServer {
  /** The issuer URL (http://127.0.0.1:<port>/dex unless another path was asked for). */
  issuer: string;
  clock: ManualClock;
  running: RunningLatchkey;
  /** Every log record written so far, parsed. */
  logs(): Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * Latchkey in this process, on memory storage, a manual clock and a loopback port: for route logic that
 * needs no separate process. `yaml` is appended to a config holding issuer, storage, web and logger; it
 * must not repeat those keys.
 */
export async function startInProcess(
  yaml: string,
  opts: {
    issuerPath?: string;
    clock?: ManualClock;
    env?: NodeJS.ProcessEnv;
    connectorHttp?: HttpClientFactory;
    /** More keys of the `web` section (indented YAML lines), e.g. clientRemoteIP. */
    web?: string;
  } = {},
): Promise<InProcessServer> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}${opts.issuerPath ?? '/dex'}`;
  const text = [
    `issuer: ${issuer}`,
    'storage:\n  type: memory',
    `web:\n  http: 127.0.0.1:${port}${opts.web ? `\n${opts.web}` : ''}`,
    'logger:\n  level: debug\n  format: json',
    yaml,
  ].join('\n');
  const { config } = parseConfig(text, opts.env ?? {});
  const lines: string[] = [];
  const logger = createLogger(config.logger, { write: (s: string) => void lines.push(s) });
  const clock = opts.clock ?? new ManualClock(new Date());
  const running = await startLatchkey(config, {
    logger,
    clock,
    ...(opts.connectorHttp ? { connectorHttp: opts.connectorHttp } : {}),
  });
  return {
    issuer,
    clock,
    running,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    close: () => running.close(0),
  };
}
