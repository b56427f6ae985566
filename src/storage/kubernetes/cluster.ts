import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubernetesStorageConfig } from '../../config/types.js';

// Where the API server is, who we are, and which namespace holds Latchkey's objects.

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A start-up failure with a message an operator can act on. */
export class KubernetesStorageStartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`kubernetes storage: ${message}`, options);
    this.name = 'KubernetesStorageStartupError';
  }
}

export interface ClusterOptions {
  env?: NodeJS.ProcessEnv;
  /** Prefix of the service-account directory (tests run "in cluster" from a temporary folder). */
  inClusterRoot?: string;
}

export interface Cluster {
  kc: KubeConfig;
  namespace: string;
  server: string;
}

export function loadCluster(cfg: KubernetesStorageConfig, opts: ClusterOptions = {}): Cluster {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
  let contextNamespace: string | undefined;
  if (cfg.inCluster) {
    const root = opts.inClusterRoot ?? '';
    if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
      throw new KubernetesStorageStartupError(
        'storage.config.inCluster is true, but this process does not run in a Kubernetes pod ' +
          '(KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set); use kubeConfigFile outside a cluster',
      );
    }
    const tokenFile = `${root}${SA_DIR}/token`;
    if (!existsSync(tokenFile)) {
      throw new KubernetesStorageStartupError(
        `storage.config.inCluster is true, but there is no service-account token at ${tokenFile} ` +
          '(is automountServiceAccountToken off?)',
      );
    }
    // What KubeConfig.loadFromCluster sets up, from the given environment: a user whose token is read from
    // the file by client-node's FileAuth, again every minute, so a rotated (projected) service-account token
    // is picked up without a restart.
    const host = env.KUBERNETES_SERVICE_HOST;
    kc.loadFromClusterAndUser(
      {
        name: 'inCluster',
        server: `https://${isIPv6(host) ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT}`,
        caFile: `${root}${SA_DIR}/ca.crt`,
        skipTLSVerify: false,
      },
      { name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } },
    );
    const nsFile = `${root}${SA_DIR}/namespace`;
    contextNamespace =
      env.KUBERNETES_POD_NAMESPACE || (existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() : undefined);
  } else {
    const file = cfg.kubeConfigFile;
    if (!file) {
      throw new KubernetesStorageStartupError(
        'set storage.config.inCluster: true or storage.config.kubeConfigFile',
      );
    }
    try {
      kc.loadFromFile(file);
    } catch (e) {
      throw new KubernetesStorageStartupError(
        `cannot read the kubeconfig file ${file}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (!kc.getCurrentContext() && kc.getContexts().length === 1) {
      kc.setCurrentContext(kc.getContexts()[0]!.name);
    }
    const context = kc.getContextObject(kc.getCurrentContext());
    if (!context) {
      throw new KubernetesStorageStartupError(
        `the kubeconfig file ${file} has no current context (set one with kubectl config use-context)`,
      );
    }
    contextNamespace = context.namespace;
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new KubernetesStorageStartupError('the kubeconfig names no API server for its current context');
  }
  return { kc, namespace: cfg.namespace || contextNamespace || 'default', server: cluster.server };
}
