import { KubernetesStorage } from '../../../src/storage/kubernetes/kubernetes.js';
import { startControlPlane, type ControlPlane } from '../../helpers/control-plane.js';
import { runStorageConformance } from '../conformance.js';

// The one storage conformance suite against a real kube-apiserver + etcd: every test gets a fresh namespace
// (namespaces cannot be deleted without a controller-manager, so they are only ever created).

let cp: ControlPlane | undefined;
beforeAll(async () => {
  cp = await startControlPlane();
}, 10 * 60_000);
afterAll(async () => {
  await cp?.stop();
});

runStorageConformance('kubernetes', async (opts) => {
  if (!cp) throw new Error('no control plane');
  const namespace = await cp.newNamespace('conformance');
  const storage = await KubernetesStorage.open(
    { type: 'kubernetes', inCluster: false, kubeConfigFile: cp.kubeconfig, namespace, crdHandling: 'ensure' },
    opts?.gcPageSize !== undefined ? { gcPageSize: opts.gcPageSize } : {},
  );
  return { storage, cleanup: () => storage.close() };
});
