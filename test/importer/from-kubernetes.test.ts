import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DexKubernetesSource } from '../../src/importer/dex-kubernetes.js';
import { importDex } from '../../src/importer/import-dex.js';
import { REPO_ROOT, runCli, startServer, type ServerProcess } from '../helpers/cli.js';
import { writeTestConfig, type TestServerConfig } from '../helpers/config.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import {
  DASHBOARD,
  buildDexInstallation,
  installDexCrds,
  loadIntoKubernetes,
  secretsOf,
  writeDexSqlite,
  type DexInstallation,
} from '../helpers/dex-fixtures.js';
import { startInProcess, type InProcessServer } from '../helpers/in-process.js';
import { DEX_PLURALS } from '../fixtures/dex/crds.js';
import {
  LATCHKEY_EXTRA,
  expectClientAndPasswordLogIn,
  expectDexKeysPublished,
  expectDexRefreshTokensWork,
  expectNoSecrets,
  importSettings,
  waitForDexKey,
} from './checks.js';

// `latchkey import dex` from Dex's Kubernetes storage: Dex's CRDs created on a real kube-apiserver as Dex
// creates them, Dex's objects written in Dex's formats (test/helpers/dex-fixtures.ts), imported into each of
// Latchkey's back ends — memory (in process), SQLite and Kubernetes (the real CLI, then the real server) —
// and, to complete the matrix, a Dex SQLite file into Kubernetes storage. Then the acceptance checks of
// checks.ts against the running Latchkey. Dex's objects must come out of all this unchanged.

const LATCHKEY_KINDS = [
  'oauth2clients',
  'passwords',
  'connectors',
  'refreshtokens',
  'keysets',
  'offlinesessions',
  'authcodes',
  'authrequests',
  'devicerequests',
  'devicetokens',
].map((p) => `${p}.latchkey.dev`);

let cp: ControlPlane;
let inst: DexInstallation;
let dexNs: string;
let tmp: string;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
  tmp = await mkdtemp(join(tmpdir(), 'latchkey-import-k8s-'));
  await installDexCrds(cp);
  dexNs = await cp.newNamespace('dex');
  inst = await buildDexInstallation();
  await loadIntoKubernetes(cp, dexNs, inst);
}, 10 * 60_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await cp?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function kubectl(...args: string[]): Promise<string> {
  const r = await cp.kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** name → resourceVersion of every Dex object: equal before and after means nothing was changed. */
async function dexVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const plural of DEX_PLURALS) {
    const list = JSON.parse(await kubectl('get', `${plural}.dex.coreos.com`, '-n', dexNs, '-o', 'json')) as {
      items: { metadata: { name: string; resourceVersion: string } }[];
    };
    for (const o of list.items) out[`${plural}/${o.metadata.name}`] = o.metadata.resourceVersion;
  }
  return out;
}

/** How many objects of each Latchkey kind the namespace holds (with kubectl, as an operator counts). */
async function latchkeyCounts(ns: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const kind of LATCHKEY_KINDS) {
    const names = await kubectl('get', kind, '-n', ns, '-o', 'name');
    out[kind] = names.split('\n').filter((l) => l !== '').length;
  }
  return out;
}

const fromKubernetes = (cfg: TestServerConfig, ...more: string[]) => [
  'import',
  'dex',
  '--config',
  cfg.file,
  '--from',
  'kubernetes',
  '--kubeconfig',
  cp.kubeconfig,
  '--namespace',
  dexNs,
  ...more,
];

const kubernetesStorage = (ns: string, crdHandling = 'check') =>
  `storage:\n  type: kubernetes\n  config:\n    kubeConfigFile: ${cp.kubeconfig}\n    namespace: ${ns}\n    crdHandling: ${crdHandling}`;

describe("Dex's custom resources → memory storage (Latchkey in process)", () => {
  let server: InProcessServer;
  const extra = `${LATCHKEY_EXTRA}\nsigner:\n  type: local\n  config:\n    keysRotationPeriod: 8s`;

  beforeAll(async () => {
    const before = await dexVersions();
    server = await startInProcess(extra);
    const source = DexKubernetesSource.open({
      inCluster: false,
      kubeConfigFile: cp.kubeconfig,
      namespace: dexNs,
    });
    const report = await importDex(source, server.running.storage, {
      apply: true,
      overwrite: false,
      pace: { parallel: 8 },
      clock: server.clock,
      ...importSettings(extra),
      target: 'memory',
    });
    await source.close();
    expect(report.failures).toEqual([]);
    expect(report.kinds.refreshTokens).toEqual({
      read: 6,
      created: 3,
      updated: 0,
      unchanged: 0,
      conflicts: 0,
      skipped: 3,
      failed: 0,
    });
    expect(report.kinds.clients.created).toBe(3);
    expect(report.kinds.passwords.created).toBe(2);
    expect(report.kinds.connectors).toMatchObject({ created: 1, skipped: 1 });
    expect(report.kinds.signingKeys).toMatchObject({ created: 2, skipped: 1 });
    expect(report.shortLived).toEqual({ authRequests: 1, authCodes: 1, deviceRequests: 1, deviceTokens: 1 });
    expect(await dexVersions()).toEqual(before);
    await waitForDexKey(server.issuer, inst);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it("refreshes Dex's refresh tokens with the same sub, email and groups", async () => {
    await expectDexRefreshTokensWork(server.issuer, inst);
  });
  it("verifies ID tokens signed with Dex's keys against /keys", async () => {
    await expectDexKeysPublished(server.issuer, inst);
  });
  it('logs the imported client in with its Dex secret, and the imported password', async () => {
    await expectClientAndPasswordLogIn(server.issuer);
  });
});

describe("Dex's custom resources → SQLite storage (the CLI, then the server)", () => {
  let cfg: TestServerConfig;
  beforeAll(async () => {
    cfg = await writeTestConfig({ extra: LATCHKEY_EXTRA });
  });

  it('imports, prints no secret, changes no Dex object; then Latchkey serves the installation', async () => {
    const before = await dexVersions();
    const r = await runCli(fromKubernetes(cfg, '--apply'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`from: Dex's custom resources (dex.coreos.com/v1) in namespace "${dexNs}"`);
    expect(r.stdout).toMatch(/refresh tokens\s+6\s+3\s+0\s+0\s+0\s+3\s+0/);
    expect(r.stderr).toContain('refresh tokens: 6/6 read');
    expectNoSecrets(r.stdout + r.stderr, secretsOf(inst));
    expect(await dexVersions()).toEqual(before);

    const server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
    servers.push(server);
    await expectDexRefreshTokensWork(cfg.issuer, inst);
    await expectDexKeysPublished(cfg.issuer, inst);
    await expectClientAndPasswordLogIn(cfg.issuer);
  }, 120_000);
});

describe("Dex's custom resources → Kubernetes storage (the CLI, then the server)", () => {
  let ns: string;
  let cfg: TestServerConfig;

  beforeAll(async () => {
    ns = await cp.newNamespace('latchkey');
    // Latchkey's CRDs installed the way an operator does; Latchkey itself only checks them.
    await kubectl('apply', '-f', join(REPO_ROOT, 'manifests/crds'));
    await kubectl(
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      ...LATCHKEY_KINDS.map((k) => `crd/${k}`),
    );
    cfg = await writeTestConfig({ storage: kubernetesStorage(ns), extra: LATCHKEY_EXTRA });
    // A client Latchkey already has, managed with kubectl, with the dashboard's ID: a conflict.
    await cp.kubectl(['apply', '-n', ns, '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'latchkey.dev/v1',
        kind: 'OAuth2Client',
        metadata: { name: DASHBOARD.id },
        spec: {
          id: DASHBOARD.id,
          secret: 'latchkey-side-secret',
          redirectURIs: ['https://elsewhere.example.com/callback'],
          name: 'Dashboard (Latchkey)',
        },
      }),
    });
  }, 120_000);

  it("installs Latchkey's CRDs with kubectl keeping every JWK member (YAML 1.1 reads n and y as booleans)", async () => {
    const props = JSON.parse(
      await kubectl(
        'get',
        'crd',
        'keysets.latchkey.dev',
        '-o',
        'jsonpath={.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.keys.items.properties.privateJwk.properties}',
      ),
    ) as Record<string, unknown>;
    expect(Object.keys(props)).toEqual(expect.arrayContaining(['n', 'e', 'x', 'y']));
    expect(Object.keys(props)).not.toContain('false');
  });

  it('dry run writes nothing (object counts before and after)', async () => {
    const before = await latchkeyCounts(ns);
    const r = await runCli(fromKubernetes(cfg));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('DRY RUN: nothing was written');
    expect(r.stdout).toMatch(
      /clients "dashboard": differs in secret, redirectURIs, trustedPeers, name, logoURL; skipped/,
    );
    expect(r.stdout).toMatch(/refresh tokens\s+6\s+3\s+0\s+0\s+0\s+3\s+0/);
    expect(await latchkeyCounts(ns)).toEqual(before);
    expect(before['refreshtokens.latchkey.dev']).toBe(0);
    expectNoSecrets(r.stdout + r.stderr, secretsOf(inst));
  });

  it('--apply imports and skips the conflict; a second --apply reports 0 changes; --overwrite replaces it', async () => {
    const before = await dexVersions();
    const first = await runCli(fromKubernetes(cfg, '--apply'));
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/clients "dashboard": differs in .*; skipped/);
    const counts = await latchkeyCounts(ns);
    expect(counts).toMatchObject({
      'oauth2clients.latchkey.dev': 3,
      'passwords.latchkey.dev': 2,
      'connectors.latchkey.dev': 1,
      'refreshtokens.latchkey.dev': 3,
      'keysets.latchkey.dev': 1,
      'offlinesessions.latchkey.dev': 0,
    });
    const dashboard = JSON.parse(
      await kubectl('get', 'oauth2clients.latchkey.dev', DASHBOARD.id, '-n', ns, '-o', 'json'),
    ) as {
      spec: { redirectURIs: string[] };
    };
    expect(dashboard.spec.redirectURIs).toEqual(['https://elsewhere.example.com/callback']);

    const second = await runCli(fromKubernetes(cfg, '--apply'));
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('0 changes, 1 conflicts');

    const overwrite = await runCli(fromKubernetes(cfg, '--apply', '--overwrite'));
    expect(overwrite.code).toBe(0);
    expect(overwrite.stdout).toMatch(/clients "dashboard": differs in .*; overwritten/);
    expect(overwrite.stdout).toContain('1 change, ');
    expect(await dexVersions()).toEqual(before);
    expectNoSecrets(first.stdout + first.stderr + second.stdout + overwrite.stdout, secretsOf(inst));
  }, 120_000);

  it('serves the imported installation: refresh tokens, Dex-signed ID tokens, client secret, password', async () => {
    const server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
    servers.push(server);
    await expectDexRefreshTokensWork(cfg.issuer, inst);
    await expectDexKeysPublished(cfg.issuer, inst);
    await expectClientAndPasswordLogIn(cfg.issuer);
  }, 60_000);
});

describe('a namespace without Dex', () => {
  it('says that nothing was found instead of reporting an empty success silently', async () => {
    const empty = await cp.newNamespace('nodex');
    const cfg = await writeTestConfig({ extra: LATCHKEY_EXTRA });
    const r = await runCli([
      'import',
      'dex',
      '--config',
      cfg.file,
      '--from',
      'kubernetes',
      '--kubeconfig',
      cp.kubeconfig,
      '--namespace',
      empty,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `Nothing was found in Dex's custom resources (dex.coreos.com/v1) in namespace "${empty}"`,
    );
    expect(r.stdout).toContain('0 changes');
  });
});

describe('Dex SQLite → Kubernetes storage (the CLI, then the server)', () => {
  it('imports a Dex SQLite file into custom resources that Latchkey then serves', async () => {
    const ns = await cp.newNamespace('fromsqlite');
    // crdHandling ensure: the import (like Latchkey's first start) creates missing CRDs.
    const cfg = await writeTestConfig({ storage: kubernetesStorage(ns, 'ensure'), extra: LATCHKEY_EXTRA });
    const sqliteInst = await buildDexInstallation();
    const dexFile = join(tmp, 'dex.db');
    writeDexSqlite(dexFile, sqliteInst);
    const r = await runCli([
      'import',
      'dex',
      '--config',
      cfg.file,
      '--from',
      'sqlite3',
      '--file',
      dexFile,
      '--apply',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/refresh tokens\s+6\s+3\s+0\s+0\s+0\s+3\s+0/);
    expectNoSecrets(r.stdout + r.stderr, secretsOf(sqliteInst));
    expect((await latchkeyCounts(ns))['refreshtokens.latchkey.dev']).toBe(3);

    const server = await startServer(cfg.file, `${cfg.issuer}/.well-known/openid-configuration`);
    servers.push(server);
    await expectDexRefreshTokensWork(cfg.issuer, sqliteInst);
    await expectDexKeysPublished(cfg.issuer, sqliteInst);
    await expectClientAndPasswordLogIn(cfg.issuer);
  }, 120_000);
});
