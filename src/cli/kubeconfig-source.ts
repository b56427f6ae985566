import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

// `latchkey kubeconfig --context NAME` takes a cluster from a kubeconfig the admin already has (kubeadm's
// admin.conf, `kind get kubeconfig`, a cloud CLI's), as `kubectl oidc-login setup` and Pinniped do: the
// server and how to trust it are copied, the admin's own credentials never are.

/** A cluster of the printed kubeconfig: where its API server is and how kubectl trusts it. */
export interface ClusterEntry {
  name: string;
  server: string;
  /** Base64 of the CA certificate(s), as certificate-authority-data. */
  caData?: string;
  tlsServerName?: string;
  insecureSkipTLSVerify?: boolean;
  /** The client ID for this cluster only, when it differs from --client-id. */
  clientID?: string;
}

export class KubeconfigSourceError extends Error {
  override name = 'KubeconfigSourceError';
}

/**
 * The cluster of each named context (the current context when none is named) in `file`, or in kubectl's
 * default kubeconfig ($KUBECONFIG, else ~/.kube/config). Each entry is named after its context.
 */
export async function clustersFromKubeconfig(
  file: string | undefined,
  contexts: readonly string[],
): Promise<ClusterEntry[]> {
  // Loaded only here: the Kubernetes client is large, and most runs of this command never need it.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  const where = file ?? process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  try {
    if (file !== undefined) kc.loadFromFile(file);
    else if (process.env.KUBECONFIG) kc.loadFromDefault();
    else if (existsSync(where)) kc.loadFromFile(where);
    else throw new Error('no such file (pass --kubeconfig FILE)');
  } catch (e) {
    throw new KubeconfigSourceError(`cannot read kubeconfig ${where}: ${(e as Error).message}`);
  }
  const names = contexts.length > 0 ? contexts : [kc.getCurrentContext()];
  return names.map((name) => {
    const context = name ? kc.getContextObject(name) : null;
    if (!context) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubeconfigSourceError(
        `kubeconfig ${where} has no context ${JSON.stringify(name)} (it has: ${known.join(', ') || 'none'})`,
      );
    }
    const cluster = kc.getCluster(context.cluster);
    if (!cluster)
      throw new KubeconfigSourceError(`context "${name}" names a missing cluster "${context.cluster}"`);
    let caData = cluster.caData;
    if (!caData && cluster.caFile) {
      try {
        caData = readFileSync(cluster.caFile).toString('base64');
      } catch (e) {
        throw new KubeconfigSourceError(
          `cluster "${cluster.name}": cannot read its CA: ${(e as Error).message}`,
        );
      }
    }
    return {
      name,
      server: cluster.server,
      ...(caData ? { caData } : {}),
      ...(cluster.tlsServerName ? { tlsServerName: cluster.tlsServerName } : {}),
      ...(cluster.skipTLSVerify ? { insecureSkipTLSVerify: true } : {}),
    };
  });
}
