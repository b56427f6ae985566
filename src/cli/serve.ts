import { loadConfigFile, ConfigError, effectiveConnectors } from '../config/load.js';
import type { Config } from '../config/types.js';
import { issuerURL } from '../config/issuer.js';
import { MemoryStorage } from '../storage/memory/memory.js';
import { loadConnectorTypes, openConnector } from '../connectors/registry.js';
import { connectorPath } from '../connectors/config-keys.js';
import { createLogger } from '../observability/logger.js';
import { startLatchkey } from '../server/server.js';
import { asksForHelp, parseFlags } from './args.js';
import cluster from 'node:cluster';
import { runPrimary } from '../cluster/primary.js';
import { runWorker } from '../cluster/worker.js';
import { currentProcessMemory, memoryLimit } from './heap.js';
import { currentWorkerFacts, workerCount, workerExecArgv } from './workers.js';

// Requests in flight get this long once the listeners stop accepting (after web.drainDelay). The chart's
// terminationGracePeriodSeconds (40) covers a 10 s drain delay plus this.
const SHUTDOWN_GRACE_MS = 20_000;

export const SERVE_USAGE = `Usage: latchkey serve [options] <config.yaml>

Runs the identity provider with the configuration in <config.yaml> (Dex's format; \`latchkey config-schema\`
prints its JSON Schema). SIGTERM or SIGINT stops it once the requests in flight have finished.

  --check                 validate the config and each connector's settings, then exit (0 valid, 2 not);
                          nothing is dialled and nothing is listened on
  --web-http-addr ADDR    serve HTTP on ADDR (host:port) instead of web.http
  --web-https-addr ADDR   serve HTTPS on ADDR instead of web.https
  --telemetry-addr ADDR   serve metrics and health checks on ADDR instead of telemetry.http
  --workers N             worker processes sharing the listeners instead of web.workers (default
                          "auto": one per core, fewer if the memory limit cannot hold them); storage,
                          limits and background work stay in one primary process
  -h, --help              this help

Exit codes: 0 stopped cleanly (or --check: valid), 1 failed to start or to stop, 2 usage or configuration
error.
`;

export async function serveCommand(args: string[]): Promise<number> {
  if (asksForHelp(args)) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  const flags = parseFlags({
    args,
    allowPositionals: true,
    options: {
      'web-http-addr': { type: 'string' },
      'web-https-addr': { type: 'string' },
      'telemetry-addr': { type: 'string' },
      workers: { type: 'string' },
      check: { type: 'boolean' },
    },
  });
  if (!flags.ok || flags.parsed.positionals.length !== 1) {
    process.stderr.write(
      `latchkey serve: ${flags.ok ? 'expected exactly one config file' : flags.message}\n\n${SERVE_USAGE}`,
    );
    return 2;
  }
  const { values, positionals } = flags.parsed;
  const file = positionals[0]!;

  let loaded;
  try {
    loaded = await loadConfigFile(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(
        `latchkey: invalid config ${file}:\n${e.problems.map((p) => `  ${p}`).join('\n')}\n`,
      );
      return 2;
    }
    process.stderr.write(`latchkey: cannot read config ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const { config, warnings } = loaded;
  warnings.push(...mockConnectorWarnings(config));
  const webHttp = (values['web-http-addr'] as string | undefined) ?? config.web.http;
  const webHttps = (values['web-https-addr'] as string | undefined) ?? config.web.https;
  if (!webHttp && !webHttps) {
    process.stderr.write(
      `latchkey: invalid config ${file}:\n  web: set web.http or web.https (or pass --web-http-addr)\n`,
    );
    return 2;
  }
  if (values.check) {
    await loadConnectorTypes(effectiveConnectors(config).map((c) => c.type));
    const problems = checkConnectors(config, warnings);
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    if (problems.length > 0) {
      process.stderr.write(
        `latchkey: invalid config ${file}:\n${problems.map((p) => `  ${p}`).join('\n')}\n`,
      );
      return 2;
    }
    process.stdout.write(`${file}: configuration is valid\n`);
    return 0;
  }

  // bin/latchkey.js has checked LATCHKEY_MEMORY_LIMIT already (a bad value exits before this).
  const limit = memoryLimit(currentProcessMemory());
  const workers = workerCount(values.workers as string | undefined, config.web.workers, () =>
    currentWorkerFacts(limit),
  );
  if (typeof workers === 'string') {
    process.stderr.write(`latchkey serve: ${workers}\n\n${SERVE_USAGE}`);
    return 2;
  }

  const logger = createLogger(config.logger);
  const overrides = {
    ...(values['web-http-addr'] ? { webHttp: values['web-http-addr'] as string } : {}),
    ...(values['web-https-addr'] ? { webHttps: values['web-https-addr'] as string } : {}),
    ...(values['telemetry-addr'] ? { telemetry: values['telemetry-addr'] as string } : {}),
  };
  if (cluster.isWorker) {
    // One of a primary's workers (same command line): it serves until the primary stops it.
    try {
      await runWorker(config, { logger: logger.child({ worker: process.pid }), overrides });
    } catch (e) {
      logger.error({ err: e }, 'worker failed to start');
      // Exit now (the log is written synchronously): the IPC channel to the primary would keep this
      // process alive, and the primary waits for it to serve or to exit.
      process.exit(1);
    }
    return new Promise<number>(() => {});
  }
  for (const w of warnings) logger.warn({ config: file }, w);

  let running: { webUrls: string[]; telemetryUrl?: string; close(graceMs: number): Promise<void> };
  try {
    running =
      workers > 1
        ? await runPrimary(config, {
            logger,
            workers,
            overrides,
            execArgv: workerExecArgv(process.execArgv, process.env, workers, limit),
          })
        : await startLatchkey(config, { logger, overrides });
  } catch (e) {
    logger.error({ err: e }, 'failed to start');
    return 1;
  }

  const discovery = issuerURL(config.issuer, '/.well-known/openid-configuration');
  logger.info(
    {
      issuer: config.issuer,
      web: running.webUrls,
      telemetry: running.telemetryUrl,
      storage: config.storage.type,
      workers,
    },
    'latchkey is serving',
  );
  process.stdout.write(
    [
      `Latchkey is serving issuer ${config.issuer}`,
      `  discovery: ${discovery}`,
      `  listening: ${running.webUrls.join(', ')}${running.telemetryUrl ? ` (telemetry ${running.telemetryUrl})` : ''}`,
      ...loginHints(
        config.staticPasswords.map((p) => p.email),
        config.staticClients.map((c) => c.id),
      ),
      '',
    ].join('\n'),
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      running
        .close(SHUTDOWN_GRACE_MS)
        .then(() => resolve(0))
        .catch((err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          resolve(1);
        });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/**
 * Said at every start and by --check: a mock connector logs in a fixed test identity (Kilgore Trout), with
 * no credential at all (mockCallback) or one written in the config (mockPassword). `insecureSkipVerify` is
 * said by each connector type that reads it (ldap, oidc, oauth) when it is opened, which both paths do.
 */
function mockConnectorWarnings(config: Config): string[] {
  const what: Record<string, string> = {
    mockCallback: 'logs anyone in, without a credential, as a fixed test user',
    mockPassword: 'logs whoever knows the username and password in the config in as a fixed test user',
  };
  return effectiveConnectors(config)
    .filter((c) => what[c.type] !== undefined)
    .map(
      (c) => `${connectorPath(c.id)}: type ${c.type} ${what[c.type]}; for tests only, never in production`,
    );
}

function loginHints(emails: string[], clients: string[]): string[] {
  const lines: string[] = [];
  if (emails.length > 0) lines.push(`  users: ${emails.join(', ')} (static passwords)`);
  if (clients.length > 0) lines.push(`  clients: ${clients.join(', ')}`);
  return lines;
}

/**
 * `--check` also validates each connector's own settings, by opening it without dialling anything (no
 * connector connects when opened); what a connector would warn about at start is a warning here too.
 */
function checkConnectors(config: Config, warnings: string[]): string[] {
  const problems: string[] = [];
  const storage = new MemoryStorage();
  const stopped = new AbortController();
  const logger = {
    warn: (_o: object, msg?: string) => void (msg && warnings.push(msg)),
    info() {},
    debug() {},
    error: (_o: object, msg?: string) => void (msg && warnings.push(msg)),
  };
  for (const c of effectiveConnectors(config)) {
    try {
      openConnector(
        { id: c.id, type: c.type, name: c.name, config: c.config },
        { storage, logger, signal: stopped.signal },
      );
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  // Ends whatever an opened connector started in the background (none dials before it is used).
  stopped.abort();
  return problems;
}
