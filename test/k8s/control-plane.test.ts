import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';

// The harness every Kubernetes suite builds on: a real etcd + kube-apiserver on loopback.
describe('local control plane', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  }, 10 * 60_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('serves the API to the admin and refuses an unknown bearer token', async () => {
    const ns = await cp.kubectl(['get', 'namespaces', '-o', 'name']);
    expect(ns.code).toBe(0);
    expect(ns.stdout.split('\n')).toEqual(
      expect.arrayContaining(['namespace/default', 'namespace/kube-system']),
    );
    const version = await cp.kubectl(['version', '-o', 'json']);
    expect(JSON.parse(version.stdout).serverVersion.gitVersion).toBe('v1.34.4');
    // The cluster-only kubeconfig carries no credentials: a bad bearer token is refused.
    const stranger = await cp.kubectl(['get', 'namespaces', '--token=not-a-token'], {
      kubeconfig: cp.noauthKubeconfig,
    });
    expect(stranger.code).not.toBe(0);
    expect(stranger.stderr).toContain('Unauthorized');
  });

  it('survives an API server restart on the same ports with its data', async () => {
    const ns = await cp.newNamespace('restart');
    await cp.stopApiserver();
    const down = await cp.kubectl(['get', 'namespace', ns, '--request-timeout=2s']);
    expect(down.code).not.toBe(0);
    await cp.startApiserver();
    const back = await cp.kubectl(['get', 'namespace', ns, '-o', 'name']);
    expect(back.stdout.trim()).toBe(`namespace/${ns}`);
  });
});
