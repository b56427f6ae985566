import type { KubernetesStorageConfig } from '../../../src/config/types.js';

/** Kubernetes storage on a test control plane: its kubeconfig, one namespace, CRDs created when missing. */
export const testStorageConfig = (
  kubeConfigFile: string,
  namespace: string,
  more: Partial<KubernetesStorageConfig> = {},
): KubernetesStorageConfig => ({
  type: 'kubernetes',
  inCluster: false,
  kubeConfigFile,
  namespace,
  crdHandling: 'ensure',
  ...more,
});
