import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApi, KubeApiError, type ResourceRef } from '../../../src/storage/kubernetes/api.js';
import { KubernetesStorage } from '../../../src/storage/kubernetes/kubernetes.js';
import { startControlPlane, type ControlPlane } from '../../helpers/control-plane.js';
import { freePort } from '../../helpers/net.js';
import * as f from '../fixtures.js';

// The Kubernetes back end's API requests share kept-alive connections (DESIGN.md "Budgets"): counted as TCP
// connections through a loopback relay in front of the real API server. TLS goes end to end through the
// relay, so each connection it sees is one TLS handshake of the client.

const REVIEWS: ResourceRef = { group: 'authentication.k8s.io', version: 'v1', plural: 'selfsubjectreviews' };
const CRDS: ResourceRef = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
};

/** A TCP relay on 127.0.0.1 to `port` that counts the connections it accepts. */
interface Relay {
  port: number;
  connections: number;
  close(): Promise<void>;
}

async function startRelay(port: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const relay = { port: 0, connections: 0, close: async () => {} };
  const server: Server = createServer((client) => {
    relay.connections++;
    const upstream = createConnection({ host: '127.0.0.1', port });
    track(client);
    track(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as { port: number }).port;
  relay.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return relay;
}

let cp: ControlPlane;
let relay: Relay;
let tmp: string;
/** A kubeconfig through the relay whose client certificate and key are files (so they can be rotated). */
let kubeconfig: string;
const certFile = (): string => join(tmp, 'client.crt');
const keyFile = (): string => join(tmp, 'client.key');

beforeAll(async () => {
  cp = await startControlPlane();
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-conn-test-'));
  relay = await startRelay(Number(new URL(cp.apiURL).port));
  const admin = new KubeConfig();
  admin.loadFromFile(cp.kubeconfig);
  await writeFile(certFile(), Buffer.from(admin.getCurrentUser()!.certData!, 'base64'));
  await writeFile(keyFile(), Buffer.from(admin.getCurrentUser()!.keyData!, 'base64'));
  kubeconfig = await kubeconfigFor(relay.port, 'relay');
}, 10 * 60_000);

afterAll(async () => {
  await relay?.close();
  await cp?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function kubeconfigFor(port: number, name: string): Promise<string> {
  const file = join(tmp, `${name}.kubeconfig`);
  await writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    certificate-authority: ${cp.caFile}`,
      `users:\n- name: u\n  user:\n    client-certificate: ${certFile()}\n    client-key: ${keyFile()}`,
      'contexts:\n- name: c\n  context:\n    cluster: c\n    user: u',
      'current-context: c',
      '',
    ].join('\n'),
  );
  return file;
}

function api(file = kubeconfig, timeoutMs = 10_000): KubeApi {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  return new KubeApi(kc, 'default', undefined, timeoutMs);
}

/** Who the API server takes the caller for. */
async function username(a: KubeApi): Promise<string | undefined> {
  const review = await a.createClusterScoped<{ status?: { userInfo?: { username?: string } } }>(REVIEWS, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'SelfSubjectReview',
  });
  return review.status?.userInfo?.username;
}

/** A few requests of different kinds, a failing one among them. */
async function someRequests(a: KubeApi): Promise<void> {
  expect(await username(a)).toBe('latchkey-test-admin');
  expect((await a.listSecrets()).items).toBeInstanceOf(Array);
  const missing: unknown = await a.getClusterScoped(CRDS, 'nothing.example.com').catch((e: unknown) => e);
  expect(missing).toBeInstanceOf(KubeApiError);
  expect((missing as KubeApiError).status).toBe(404);
  expect((missing as KubeApiError).reason).toBe('NotFound');
}

// undici's HTTP/1.1 pool may open a second connection for the request that follows the very first one (the
// first connection is released a moment after its response is read), so "shared" reads "at most two".
const SHARED = 2;

describe('Kubernetes API requests', () => {
  it('share kept-alive connections, across every KubeApi of the process with the same credentials', async () => {
    const first = api();
    const second = api();
    const before = relay.connections;
    for (let i = 0; i < 5; i++) await someRequests(first);
    for (let i = 0; i < 5; i++) await someRequests(second);
    // 30 requests one after the other.
    expect(relay.connections - before).toBeLessThanOrEqual(SHARED);
    first.close();
    second.close();
  });

  it('open at most 16 connections however many requests run at once, and keep them for the next ones', async () => {
    const a = api();
    const before = relay.connections;
    for (let burst = 0; burst < 3; burst++) {
      const lists = await Promise.all(Array.from({ length: 40 }, () => a.listSecrets()));
      expect(lists.every((l) => Array.isArray(l.items))).toBe(true);
    }
    expect(relay.connections - before).toBeLessThanOrEqual(16);
    a.close();
  });

  it('through the storage back end: a refresh token’s whole life costs no connection per call', async () => {
    const ns = await cp.newNamespace('conn');
    const s = await KubernetesStorage.open({
      type: 'kubernetes',
      inCluster: false,
      kubeConfigFile: kubeconfig,
      namespace: ns,
      crdHandling: 'ensure',
    });
    try {
      // Start-up (CRDs, permissions, watches) is done; from here on every call is a request of its own.
      const before = relay.connections;
      for (let i = 0; i < 5; i++) {
        const id = `rt-${i}`;
        await s.createRefreshToken(f.refreshToken(id));
        await s.updateRefreshToken(id, (rt) => ({ ...rt, token: `rotated-${i}` }));
        expect((await s.getRefreshToken(id)).token).toBe(`rotated-${i}`);
        await s.deleteRefreshToken(id);
      }
      expect(relay.connections - before).toBeLessThanOrEqual(SHARED);
    } finally {
      await s.close();
    }
  });

  it('move to new connections when the client certificate file is replaced, without a restart', async () => {
    const a = api();
    expect(await username(a)).toBe('latchkey-test-admin');
    await rotateClientCertificate('latchkey-rotated-admin');
    const before = relay.connections;
    for (let i = 0; i < 10; i++) expect(await username(a)).toBe('latchkey-rotated-admin');
    expect(relay.connections - before).toBeGreaterThanOrEqual(1);
    expect(relay.connections - before).toBeLessThanOrEqual(SHARED);
    a.close();
  });
});

// The requests go out through undici's request() (not client-node's fetch): what fails reaches KubeApi's
// error mapping as before.
describe('failed requests', () => {
  it('that get no answer within the timeout are timeouts', async () => {
    const held = new Set<Socket>();
    const silent = createServer((s) => held.add(s.on('error', () => {})));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const a = api(await kubeconfigFor(port, 'silent'), 300);
      const err: unknown = await a.listSecrets().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeApiError);
      expect(err).toMatchObject({ status: undefined, networkCode: 'Timeout', transient: true });
      expect((err as Error).message).toMatch(/no answer from the Kubernetes API at .* within 300 ms/);
      a.close();
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('that cannot connect name the network error', async () => {
    const a = api(await kubeconfigFor(await freePort(), 'refused'));
    const err: unknown = await a.listSecrets().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: undefined, networkCode: 'ECONNREFUSED' });
    expect((err as Error).message).toMatch(
      /^cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/,
    );
    a.close();
  });
});

/** A new key and certificate for `name` in system:masters, signed by the cluster CA, over the old files. */
async function rotateClientCertificate(name: string): Promise<void> {
  const pki = join(cp.dir, 'harness/pki');
  const openssl = (...args: string[]) => promisify(execFile)('openssl', args);
  const key = join(tmp, 'next.key');
  const csr = join(tmp, 'next.csr');
  const crt = join(tmp, 'next.crt');
  const ext = join(tmp, 'next.ext');
  await openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key);
  await openssl('req', '-new', '-key', key, '-subj', `/O=system:masters/CN=${name}`, '-out', csr);
  await writeFile(
    ext,
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  await openssl(
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    join(pki, 'ca.crt'),
    '-CAkey',
    join(pki, 'ca.key'),
    '-CAcreateserial',
    '-sha256',
    '-days',
    '1',
    '-extfile',
    ext,
    '-out',
    crt,
  );
  await writeFile(keyFile(), await readFile(key));
  await writeFile(certFile(), await readFile(crt));
}
