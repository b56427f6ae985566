import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { Config, StorageConfig } from '../config/types.js';
import {
  SUPPORTED_SOURCES,
  UnsupportedSourceError,
  sourceFromDexConfig,
  type DexSourceSpec,
} from '../importer/dex-config.js';
import type { DexSource } from '../importer/dex-model.js';
import { DexSqliteSource } from '../importer/dex-sqlite.js';
import { importDex, settingsFromConfig } from '../importer/import-dex.js';
import { formatReport } from '../importer/report.js';
import { openStorage } from '../storage/open.js';
import { withStaticOverlay } from '../storage/static.js';
import type { Storage } from '../storage/storage.js';
import { staticEntities } from '../server/static-entities.js';
import { systemClock } from '../util/clock.js';
import { parseFlags } from './args.js';

export const IMPORT_USAGE = `Usage: latchkey import dex --config LATCHKEY.yaml SOURCE [options]

Copies a Dex installation's state into Latchkey's storage, so users switch without logging in again:
clients (secrets kept), passwords, connectors created through Dex's API, refresh tokens (the same token
strings keep refreshing, with the same sub and claims) and Dex's public signing keys (published at /keys
until the ID tokens Dex signed have expired). Auth requests, auth codes and device codes are short-lived
and not imported. Dex's storage is only read. Without --apply this is a dry run that writes nothing.

Target:
  --config FILE         Latchkey's config file: its storage is written; expiry.idTokens, expiry.refreshTokens
                        and the signer decide how long imported keys and refresh tokens last

Source (one of):
  --dex-config FILE     Dex's config file: its storage section names the source
  --from kubernetes     Dex's custom resources (dex.coreos.com/v1), with
      --kubeconfig FILE   the cluster's kubeconfig (default: $KUBECONFIG, else ~/.kube/config), or
      --in-cluster        this pod's service account
      --namespace NS      Dex's namespace (default: the kubeconfig context's, else "default")
  --from sqlite3 --file FILE
                        Dex's SQLite database (opened read-only)
  Dex's postgres, mysql and etcd storage cannot be imported from.

Options:
  --apply               write (default: dry run)
  --dry-run             show what would be imported and write nothing (the default)
  --overwrite           replace Latchkey objects that differ from Dex's (default: report and skip them)
  --parallel N          objects written at once (default 8)
  --qps Q               objects started per second at most (default: no limit beyond --parallel)
  --output text|json    the report's format (default text); progress lines go to stderr
  -h, --help            this help

Exit codes: 0 done (conflicts are reported, not errors), 1 an object failed or the source or target could
not be read, 2 usage or configuration error.
`;

export async function importCommand(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  if (what === '-h' || what === '--help' || what === 'help') {
    process.stdout.write(IMPORT_USAGE);
    return 0;
  }
  if (what !== 'dex') {
    process.stderr.write(
      `latchkey import: ${what === undefined ? 'say what to import' : `cannot import from "${what}"`}; ` +
        `only "dex" is supported\n\n${IMPORT_USAGE}`,
    );
    return 2;
  }
  return importDexCommand(rest);
}

async function importDexCommand(args: string[]): Promise<number> {
  const flags = parseFlags({
    args,
    options: {
      config: { type: 'string' },
      'dex-config': { type: 'string' },
      from: { type: 'string' },
      kubeconfig: { type: 'string' },
      'in-cluster': { type: 'boolean' },
      namespace: { type: 'string' },
      file: { type: 'string' },
      apply: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      overwrite: { type: 'boolean' },
      parallel: { type: 'string' },
      qps: { type: 'string' },
      output: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.ok && flags.parsed.values.help) {
    process.stdout.write(IMPORT_USAGE);
    return 0;
  }
  const usage = (message: string): number => {
    process.stderr.write(`latchkey import dex: ${message}\n\n${IMPORT_USAGE}`);
    return 2;
  };
  const fail = (message: string, code = 2): number => {
    process.stderr.write(`latchkey import dex: ${message}\n`);
    return code;
  };
  if (!flags.ok) return usage(flags.message);
  const v = flags.parsed.values;

  if (v.apply && v['dry-run']) return usage('--apply and --dry-run exclude each other');
  const output = v.output ?? 'text';
  if (output !== 'text' && output !== 'json') return usage('--output must be text or json');
  const parallel = Number(v.parallel ?? 8);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64)
    return usage('--parallel must be an integer from 1 to 64');
  const qps = v.qps === undefined ? undefined : Number(v.qps);
  if (qps !== undefined && !(qps > 0)) return usage('--qps must be a number above 0');

  // The source.
  let spec: DexSourceSpec;
  try {
    const s = await sourceSpec(v);
    if (typeof s === 'string') return usage(s);
    spec = s;
  } catch (e) {
    if (e instanceof UnsupportedSourceError) return fail(e.message);
    return fail((e as Error).message);
  }

  // The target.
  if (!v.config) return usage("--config (Latchkey's config file) is required");
  let config: Config;
  try {
    ({ config } = await loadConfigFile(v.config));
  } catch (e) {
    if (e instanceof ConfigError) {
      return fail(`invalid config ${v.config}:\n${e.problems.map((p) => `  ${p}`).join('\n')}`);
    }
    return fail(`cannot read config ${v.config}: ${(e as Error).message}`);
  }
  if (config.storage.type === 'memory') {
    return fail(
      `${v.config} uses memory storage, which lives only inside one running Latchkey: ` +
        'import into sqlite3 or kubernetes storage',
    );
  }

  const apply = v.apply === true;
  let source: DexSource | undefined;
  let storage: Storage | undefined;
  try {
    // The Kubernetes client (@kubernetes/client-node) loads only for a Kubernetes source.
    source =
      spec.type === 'kubernetes'
        ? (await import('../importer/dex-kubernetes.js')).DexKubernetesSource.open(spec)
        : DexSqliteSource.open(spec.file);
    storage = withStaticOverlay(await openTarget(config.storage, apply), staticEntities(config));
    const report = await importDex(source, storage, {
      apply,
      overwrite: v.overwrite === true,
      pace: { parallel, ...(qps !== undefined ? { qps, burst: Math.max(1, Math.ceil(qps)) } : {}) },
      clock: systemClock,
      ...settingsFromConfig(config),
      target: describeTarget(config.storage),
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.failures.length > 0 ? 1 : 0;
  } catch (e) {
    return fail((e as Error).message, 1);
  } finally {
    await source?.close();
    await storage?.close();
  }
}

type Values = Record<string, string | boolean | undefined>;

/** The source the flags name, or a usage message. */
async function sourceSpec(v: Values): Promise<DexSourceSpec | string> {
  const namespace = typeof v.namespace === 'string' ? v.namespace : undefined;
  if (v['dex-config'] !== undefined) {
    if (v.from !== undefined) return 'give --dex-config or --from, not both';
    return sourceFromDexConfig(String(v['dex-config']), process.env, namespace);
  }
  const from = v.from === 'sqlite' ? 'sqlite3' : v.from;
  if (from === undefined) return 'name the source: --dex-config FILE, --from kubernetes or --from sqlite3';
  if (typeof from !== 'string' || !(SUPPORTED_SOURCES as readonly string[]).includes(from)) {
    throw new UnsupportedSourceError(String(from));
  }
  if (from === 'sqlite3') {
    if (typeof v.file !== 'string') return "--from sqlite3 needs --file (the path of Dex's database)";
    return { type: 'sqlite3', file: v.file };
  }
  if (v['in-cluster'] && v.kubeconfig !== undefined) return 'give --kubeconfig or --in-cluster, not both';
  const kubeConfigFile =
    typeof v.kubeconfig === 'string'
      ? v.kubeconfig
      : (process.env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config'));
  return v['in-cluster']
    ? { type: 'kubernetes', inCluster: true, ...(namespace ? { namespace } : {}) }
    : { type: 'kubernetes', inCluster: false, kubeConfigFile, ...(namespace ? { namespace } : {}) };
}

/**
 * Latchkey's storage. A dry run must not write: Kubernetes CRDs are only checked, never created, and a
 * SQLite file that does not exist yet is not created (the import would create everything).
 */
async function openTarget(cfg: StorageConfig, apply: boolean): Promise<Storage> {
  if (!apply && cfg.type === 'kubernetes') {
    try {
      return await openStorage({ ...cfg, crdHandling: 'check' });
    } catch (e) {
      throw new Error(
        `${(e as Error).message} (a dry run never creates Latchkey's CRDs: install them, or run with --apply)`,
        { cause: e },
      );
    }
  }
  if (!apply && cfg.type === 'sqlite3' && cfg.file !== ':memory:') {
    if (!existsSync(cfg.file)) return openStorage({ type: 'memory' });
  }
  return openStorage(cfg);
}

function describeTarget(cfg: StorageConfig): string {
  switch (cfg.type) {
    case 'kubernetes':
      return `Latchkey's kubernetes storage (latchkey.dev/v1)${cfg.namespace ? ` in namespace "${cfg.namespace}"` : ''}`;
    case 'sqlite3':
      return `Latchkey's SQLite database ${cfg.file}`;
    case 'memory':
      return "Latchkey's memory storage";
  }
}
