import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { REPO_ROOT } from './cli.js';
import { runCommand } from './command.js';
import { freePort } from './net.js';
import { StopWaiting, waitFor } from './wait.js';

// A real OpenLDAP server (Debian's slapd, installed by scripts/provision-test-deps.sh) for the LDAP connector
// tests: a private directory in a temp dir, loaded from test/fixtures/ldap/directory.ldif with slapadd, serving
// LDAP (with StartTLS) and LDAPS on free loopback ports with a certificate from scripts/gencert.sh. Stopped by
// its PID. No LDAP stand-in anywhere.

export const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const FIXTURES = join(REPO_ROOT, 'test/fixtures/ldap');

export const BASE_DN = 'dc=example,dc=com';
export const USERS_DN = `cn=Users,${BASE_DN}`;
/** The service account of examples/config-ad-kubelogin.yaml. */
export const SERVICE_DN = `cn=Administrator,${USERS_DN}`;
export const SERVICE_PW = 'admin0!';

export interface SlapdOptions {
  /** LDIF loaded before start; the AD-like fixture by default. */
  ldif?: string;
  /** `demand`: clients must present a certificate from the test CA (for clientCert/clientKey tests). */
  verifyClient?: 'never' | 'demand';
}

export interface Slapd {
  pid: number;
  dir: string;
  ldapPort: number;
  ldapsPort: number;
  /** `127.0.0.1:<port>` of plain LDAP (StartTLS) and LDAPS. */
  ldapHost: string;
  ldapsHost: string;
  /** The test CA that signed the server's certificate (PEM file, and its contents). */
  caFile: string;
  caPem: string;
  /** A client certificate and key signed by the same CA. */
  clientCertFile: string;
  clientKeyFile: string;
  rootDN: string;
  rootPW: string;
  /** Applies an LDIF change record with ldapmodify as the root DN. */
  modify(ldif: string): Promise<void>;
  /** Deletes an entry with ldapdelete as the root DN. */
  delete(dn: string): Promise<void>;
  output(): string;
  /** SIGTERM by PID, waits for the exit, removes the temp dir. */
  stop(): Promise<void>;
}

/** Runs a tool; fails with its output unless it exited 0. */
async function run(
  file: string,
  args: string[],
  opts: { input?: string; cwd?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  const r = await runCommand(file, args, opts);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}`);
  return r;
}

async function requireInstalled(): Promise<void> {
  for (const tool of [SLAPD, SLAPADD, '/usr/bin/ldapmodify', '/usr/bin/ldapdelete']) {
    try {
      await access(tool);
    } catch {
      throw new Error(
        `${tool} is missing: the LDAP tests need Debian's slapd and ldap-utils (scripts/provision-test-deps.sh installs them when run as root)`,
      );
    }
  }
}

async function clientCertificate(tls: string): Promise<void> {
  await run('openssl', [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    join(tls, 'client-key.pem'),
  ]);
  await run('openssl', [
    'req',
    '-new',
    '-key',
    join(tls, 'client-key.pem'),
    '-subj',
    '/CN=latchkey-ldap-client',
    '-out',
    join(tls, 'client.csr'),
  ]);
  await writeFile(join(tls, 'client.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    join(tls, 'client.csr'),
    '-CA',
    join(tls, 'ca.pem'),
    '-CAkey',
    join(tls, 'ca-key.pem'),
    '-CAcreateserial',
    '-CAserial',
    join(tls, 'ca.srl'),
    '-days',
    '2',
    '-sha256',
    '-extfile',
    join(tls, 'client.ext'),
    '-out',
    join(tls, 'client.pem'),
  ]);
}

export async function startSlapd(opts: SlapdOptions = {}): Promise<Slapd> {
  await requireInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-slapd-'));
  const tls = join(dir, 'tls');
  await mkdir(join(dir, 'db'));
  await run('bash', [
    join(REPO_ROOT, 'scripts/gencert.sh'),
    '--dns',
    'localhost',
    '--ip',
    '127.0.0.1',
    '--out',
    tls,
  ]);
  await clientCertificate(tls);
  const rootDN = `cn=admin,${BASE_DN}`;
  const rootPW = 'slapd-root-secret';
  const template = await readFile(join(FIXTURES, 'slapd.conf.template'), 'utf8');
  const values: Record<string, string> = {
    SCHEMA_DIR: '/etc/ldap/schema',
    FIXTURES_DIR: FIXTURES,
    MODULE_DIR: '/usr/lib/ldap',
    DIR: dir,
    TLS_DIR: tls,
    TLS_VERIFY_CLIENT: opts.verifyClient ?? 'never',
    ROOT_DN: rootDN,
    ROOT_PW: rootPW,
  };
  const conf = join(dir, 'slapd.conf');
  await writeFile(
    conf,
    template.replace(/\{\{([A-Z_]+)\}\}/g, (_, k: string) => {
      const v = values[k];
      if (v === undefined) throw new Error(`slapd.conf.template: unknown placeholder ${k}`);
      return v;
    }),
  );
  await run(SLAPADD, ['-q', '-f', conf, '-l', opts.ldif ?? join(FIXTURES, 'directory.ldif')]);

  const ldapPort = await freePort();
  const ldapsPort = await freePort();
  const ldapURL = `ldap://127.0.0.1:${ldapPort}`;
  // -d 0: stay in the foreground (so the PID is slapd's) without debug output.
  const child: ChildProcess = spawn(
    SLAPD,
    ['-f', conf, '-h', `${ldapURL}/ ldaps://127.0.0.1:${ldapsPort}/`, '-d', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;

  const ldapTool = (tool: string, args: string[], input?: string) =>
    run(`/usr/bin/${tool}`, ['-x', '-H', ldapURL, '-D', rootDN, '-w', rootPW, ...args], {
      input: input ?? '',
    });

  const slapd: Slapd = {
    pid: child.pid!,
    dir,
    ldapPort,
    ldapsPort,
    ldapHost: `127.0.0.1:${ldapPort}`,
    ldapsHost: `127.0.0.1:${ldapsPort}`,
    caFile: join(tls, 'ca.pem'),
    caPem: await readFile(join(tls, 'ca.pem'), 'utf8'),
    clientCertFile: join(tls, 'client.pem'),
    clientKeyFile: join(tls, 'client-key.pem'),
    rootDN,
    rootPW,
    modify: async (ldif) => {
      await ldapTool('ldapmodify', [], ldif);
    },
    delete: async (dn) => {
      await ldapTool('ldapdelete', [dn]);
    },
    output: () => out,
    stop: async () => {
      if (running()) {
        process.kill(child.pid!, 'SIGTERM');
        const killed = setTimeout(() => {
          if (running()) process.kill(child.pid!, 'SIGKILL');
        }, 10_000);
        await exited;
        clearTimeout(killed);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    await waitFor(
      async () => {
        if (!running()) throw new StopWaiting(`slapd exited with ${child.exitCode}:\n${out}`);
        const client = new Client({ url: ldapURL, connectTimeout: 1_000, timeout: 1_000 });
        try {
          await client.bind(rootDN, rootPW);
          return true;
        } finally {
          await client.unbind().catch(() => {});
        }
      },
      { what: `slapd on ${ldapURL}`, timeoutMs: 20_000, intervalMs: 50 },
    );
  } catch (e) {
    await slapd.stop();
    throw new Error(`${(e as Error).message}\n--- slapd output ---\n${out}`, { cause: e });
  }
  return slapd;
}
