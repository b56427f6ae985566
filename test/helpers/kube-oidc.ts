// Shared setup of the Kubernetes authentication suites (issue 7): Latchkey over HTTPS with a gencert.sh CA,
// ID tokens from the password grant, and the real kubectl/kubelogin against a real kube-apiserver.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import { SignJWT, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { parse, stringify } from 'yaml';
import { REPO_ROOT, startServer, type ServerProcess } from './cli.js';
import type { CommandResult, ControlPlane } from './control-plane.js';
import { freePort } from './net.js';
import { waitFor } from './wait.js';

export const PEERS_DIR = await new Promise<string>((resolve, reject) =>
  execFile(join(REPO_ROOT, 'scripts/build-test-peers.sh'), ['--print-dir'], (err, stdout) =>
    err ? reject(err) : resolve(stdout.trim()),
  ),
);

/** The kubelogin fixtures (kubelogin's --browser-command). */
export const BROWSER_COMMAND = join(REPO_ROOT, 'test/fixtures/kubelogin/browser.sh');

export interface TLSFiles {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  caPem: string;
}

/** A CA and a server certificate for 127.0.0.1, made by the script users run (scripts/gencert.sh). */
export async function gencert(): Promise<TLSFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-kube-tls-'));
  await new Promise<void>((resolve, reject) =>
    execFile(join(REPO_ROOT, 'scripts/gencert.sh'), ['--ip', '127.0.0.1', '--out', dir], (err, _o, stderr) =>
      err ? reject(new Error(`gencert.sh: ${stderr}`)) : resolve(),
    ),
  );
  const ca = join(dir, 'ca.pem');
  return {
    dir,
    ca,
    cert: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
    caPem: await readFile(ca, 'utf8'),
  };
}

export interface TestUser {
  email: string;
  password: string;
  username: string;
  userID: string;
  groups: string[];
}

export const ALICE: TestUser = {
  email: 'alice@example.com',
  password: 'alice-password',
  username: 'alice',
  userID: 'a11ce000-0000-4000-8000-000000000001',
  groups: ['devs'],
};
export const BOB: TestUser = {
  email: 'bob@example.com',
  password: 'bob-password',
  username: 'bob',
  userID: 'b0b00000-0000-4000-8000-000000000002',
  groups: ['testers'],
};

/** The public client kubectl/kubelogin use (the API server's --oidc-client-id). */
export const KUBE_CLIENT = 'kubernetes';
/** Another registered client: its tokens are not for the API server. */
export const OTHER_CLIENT = { id: 'other-app', secret: 'b3RoZXItYXBwLXNlY3JldA' };
export const TOKEN_SCOPE = 'openid email profile groups';

let hashes: Promise<string[]> | undefined;

export interface LatchkeyOptions {
  tls: TLSFiles;
  dir: string;
  /** Port to serve on (default: a free one). */
  port?: number;
  /** Issue tokens for another process's issuer (same storage file, same keys) instead of its own. */
  issuer?: string;
  /** SQLite file (default: one per issuer in `dir`). */
  storageFile?: string;
  idTokens?: string;
  keysRotationPeriod?: string;
  algorithm?: 'RS256' | 'ES256';
  /** Connectors besides the password database (e.g. an oidc connector for token exchange). */
  connectors?: Record<string, unknown>[];
}

export interface LatchkeyConfig {
  file: string;
  issuer: string;
  /** Where this process serves its issuer's routes (differs from `issuer` for a sibling). */
  base: string;
  port: number;
  telemetryPort: number;
  storageFile: string;
  options: LatchkeyOptions;
}

/** Writes a Latchkey config: HTTPS, the password grant, the `kubernetes` client and ALICE and BOB. */
export async function latchkeyConfig(opts: LatchkeyOptions): Promise<LatchkeyConfig> {
  hashes ??= Promise.all([ALICE, BOB].map((u) => bcrypt.hash(u.password, 10)));
  const [aliceHash, bobHash] = await hashes;
  const port = opts.port ?? (await freePort());
  const telemetryPort = await freePort();
  const base = `https://127.0.0.1:${port}/dex`;
  const issuer = opts.issuer ?? base;
  const storageFile = opts.storageFile ?? join(opts.dir, `latchkey-${new URL(issuer).port}.db`);
  const doc: Record<string, unknown> = {
    issuer,
    storage: { type: 'sqlite3', config: { file: storageFile } },
    web: { https: `127.0.0.1:${port}`, tlsCert: opts.tls.cert, tlsKey: opts.tls.key },
    telemetry: { http: `127.0.0.1:${telemetryPort}` },
    logger: { level: 'info', format: 'json' },
    ...(opts.idTokens ? { expiry: { idTokens: opts.idTokens } } : {}),
    ...(opts.keysRotationPeriod || opts.algorithm
      ? {
          signer: {
            type: 'local',
            config: {
              keysRotationPeriod: opts.keysRotationPeriod ?? '6h',
              algorithm: opts.algorithm ?? 'RS256',
            },
          },
        }
      : {}),
    oauth2: { skipApprovalScreen: false, passwordConnector: 'local' },
    staticClients: [
      {
        id: KUBE_CLIENT,
        name: 'Kubernetes',
        public: true,
        redirectURIs: ['http://localhost:8000', 'http://localhost:18000', '/dex/device/callback'],
      },
      {
        id: OTHER_CLIENT.id,
        secret: OTHER_CLIENT.secret,
        name: 'Other App',
        redirectURIs: ['http://127.0.0.1:5555/callback'],
      },
    ],
    ...(opts.connectors ? { connectors: opts.connectors } : {}),
    enablePasswordDB: true,
    staticPasswords: [
      { ...userEntry(ALICE), hash: aliceHash },
      { ...userEntry(BOB), hash: bobHash },
    ],
  };
  const file = join(opts.dir, `config-${port}.yaml`);
  await writeFile(file, stringify(doc));
  return { file, issuer, base, port, telemetryPort, storageFile, options: opts };
}

function userEntry(u: TestUser) {
  return { email: u.email, username: u.username, userID: u.userID, groups: u.groups };
}

export interface Latchkey extends LatchkeyConfig {
  server: ServerProcess;
  /** How many `tokens issued` lines the server logged (for one grant type, or all). */
  issued(grant?: string): number;
  /** How many HTTP requests the server logged (to one path, or all). */
  requests(path?: string): number;
  stop(): Promise<void>;
}

/** Starts `latchkey serve` on a config from `latchkeyConfig` and waits for discovery over HTTPS. */
export async function startLatchkey(cfg: LatchkeyConfig): Promise<Latchkey> {
  const server = await startServer(cfg.file, `http://127.0.0.1:${cfg.telemetryPort}/healthz/ready`);
  try {
    await waitFor(
      async () =>
        (await httpsRequest(`${cfg.base}/.well-known/openid-configuration`, { ca: cfg.options.tls.caPem }))
          .status === 200,
      { what: `discovery at ${cfg.base}` },
    );
  } catch (e) {
    await server.stop();
    throw e;
  }
  type LogLine = { msg?: string; grant?: string; method?: string; path?: string };
  // Complete JSON lines only (the last one may still be arriving).
  const lines = () =>
    server
      .output()
      .split('\n')
      .slice(0, -1)
      .flatMap((l): LogLine[] => {
        try {
          return l.startsWith('{') ? [JSON.parse(l) as LogLine] : [];
        } catch {
          return [];
        }
      });
  return {
    ...cfg,
    server,
    issued: (grant) =>
      lines().filter((l) => l.msg === 'tokens issued' && (grant === undefined || l.grant === grant)).length,
    requests: (path) => lines().filter((l) => l.method && (path === undefined || l.path === path)).length,
    stop: async () => {
      await server.stop();
    },
  };
}

/** An HTTPS request trusting `ca` (the test process cannot use NODE_EXTRA_CA_CERTS for itself). */
export function httpsRequest(
  url: string,
  opts: { ca: string; method?: string; form?: Record<string, string>; headers?: Record<string, string> },
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: opts.method ?? (body ? 'POST' : 'GET'),
        ca: opts.ca,
        agent: false,
        headers: {
          ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** An ID token from the password grant (`base` is where the issuer's routes are served). */
export async function passwordToken(
  lk: Pick<LatchkeyConfig, 'base' | 'options'>,
  user: TestUser,
  client: { id: string; secret?: string } = { id: KUBE_CLIENT },
): Promise<string> {
  const r = await httpsRequest(`${lk.base}/token`, {
    ca: lk.options.tls.caPem,
    form: {
      grant_type: 'password',
      username: user.email,
      password: user.password,
      scope: TOKEN_SCOPE,
      ...(client.secret ? {} : { client_id: client.id }),
    },
    headers: client.secret
      ? { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}` }
      : {},
  });
  if (r.status !== 200) throw new Error(`password grant for ${user.email}: HTTP ${r.status} ${r.body}`);
  return (JSON.parse(r.body) as { id_token: string }).id_token;
}

/** A token with the issuer's claims for `user`, signed by a key the issuer never had. */
export async function forgeToken(
  issuer: string,
  user: TestUser,
  opts: { alg: 'RS256' | 'ES256'; kid?: string; sub: string },
): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair(opts.alg, { extractable: true });
  const kid = opts.kid ?? (await calculateJwkThumbprint(await exportJWK(publicKey)));
  return new SignJWT({ email: user.email, email_verified: true, groups: user.groups, name: user.username })
    .setProtectedHeader({ alg: opts.alg, kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(KUBE_CLIENT)
    .setSubject(opts.sub)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(privateKey);
}

/** Runs the real kubectl with an explicit environment (PATH for kubelogin, CA and login variables). */
export function kubectl(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; onStderr?: (chunk: string) => void } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', args, {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** `kubectl auth whoami -o json` with a bearer token and the credential-less kubeconfig (harness §3.4). */
export async function whoami(cp: ControlPlane, token: string): Promise<CommandResult & { user?: UserInfo }> {
  const r = await kubectl([
    '--kubeconfig',
    cp.noauthKubeconfig,
    '--token',
    token,
    'auth',
    'whoami',
    '-o',
    'json',
  ]);
  if (r.code !== 0) return r;
  return { ...r, user: (JSON.parse(r.stdout) as { status: { userInfo: UserInfo } }).status.userInfo };
}

/** `kubectl <args>` as the bearer of `token`. */
export function asToken(cp: ControlPlane, token: string, args: string[]): Promise<CommandResult> {
  return kubectl(['--kubeconfig', cp.noauthKubeconfig, '--token', token, ...args]);
}

/** The last lines of kube-apiserver's log, for failure messages. */
export async function apiserverLog(cp: ControlPlane, lines = 30): Promise<string> {
  const log = await readFile(join(cp.dir, 'harness/logs/kube-apiserver.log'), 'utf8').catch(() => '');
  return log.split('\n').slice(-lines).join('\n');
}

/**
 * Waits until the API server's authenticator for this issuer is initialised (it retries discovery every
 * 10 s when the issuer was down at its start) and accepts a fresh token: returns that whoami.
 */
export async function waitForAuthenticator(cp: ControlPlane, mint: () => Promise<string>): Promise<UserInfo> {
  let last: CommandResult | undefined;
  try {
    return await waitFor(
      async () => {
        last = await whoami(cp, await mint());
        return (last as { user?: UserInfo }).user;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'kube-apiserver to accept an ID token' },
    );
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\nlast kubectl: ${last?.stderr}\n--- kube-apiserver ---\n${await apiserverLog(cp)}`,
      { cause: e },
    );
  }
}

/** Expects kubectl to have been refused as unauthenticated (401). */
export function expectUnauthorized(r: CommandResult): void {
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('(Unauthorized)');
}

/** Resolves once the wall clock is past `epochSeconds` (waiting out a short configured lifetime). */
export async function waitUntilPast(epochSeconds: number): Promise<void> {
  const ms = epochSeconds * 1000 - Date.now() + 1000;
  await waitFor(() => Date.now() > epochSeconds * 1000 + 1000, {
    timeoutMs: Math.max(ms, 0) + 5_000,
    intervalMs: 200,
    what: `the clock to pass ${new Date(epochSeconds * 1000).toISOString()}`,
  });
}

export function claimsOf(token: string): Record<string, unknown> & { sub: string; exp: number } {
  return decodeJwt(token) as Record<string, unknown> & { sub: string; exp: number };
}

/** The ID tokens kubelogin cached in `dir` (--token-cache-dir). */
export async function cachedIDTokens(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const text = await readFile(join(dir, name), 'utf8').catch(() => '');
    try {
      const entry = JSON.parse(text) as { id_token?: string };
      if (entry.id_token) out.push(entry.id_token);
    } catch {
      // lock files
    }
  }
  return out;
}

/** The README's "Install on a cluster" section: the tests run what it tells users to run. */
export async function readmeSection(): Promise<string> {
  const text = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = text.indexOf('\n## Install on a cluster\n');
  if (start < 0) throw new Error('README.md has no "## Install on a cluster" section');
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The section's first code block that contains `marker`. */
export async function readmeBlock(marker: string): Promise<string> {
  for (const m of (await readmeSection()).matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    if (m[1]!.includes(marker)) return m[1]!;
  }
  throw new Error(`README "Install on a cluster" has no code block with ${marker}`);
}

/** The README's --oidc-* flags (its ES256 line included), pointed at this issuer and CA file. */
export async function readmeApiserverFlags(issuer: string, caFile: string): Promise<string[]> {
  const flags = [...(await readmeBlock('--oidc-issuer-url=')).matchAll(/--oidc-[a-z-]+=\S+/g)].map(
    (m) => m[0],
  );
  return flags.map((f) =>
    f.startsWith('--oidc-issuer-url=')
      ? `--oidc-issuer-url=${issuer}`
      : f.startsWith('--oidc-ca-file=')
        ? `--oidc-ca-file=${caFile}`
        : f,
  );
}

export interface JWTAuthenticator {
  issuer: { url: string; audiences: string[]; certificateAuthority: string };
  claimMappings: Record<string, { claim: string; prefix?: string }>;
}

/** The README's AuthenticationConfiguration, its (only) issuer pointed at this issuer and CA. */
export async function readmeAuthenticationConfiguration(
  issuer: string,
  caPem: string,
): Promise<{ apiVersion: string; kind: string; jwt: JWTAuthenticator[] }> {
  const doc = parse(await readmeBlock('kind: AuthenticationConfiguration')) as {
    apiVersion: string;
    kind: string;
    jwt: JWTAuthenticator[];
  };
  if (doc.jwt.length !== 1) throw new Error('the README AuthenticationConfiguration should have one issuer');
  doc.jwt[0]!.issuer.url = issuer;
  doc.jwt[0]!.issuer.certificateAuthority = caPem;
  return doc;
}

/** Runs the headless user (test/fixtures/kubelogin/browser.sh) on `url`, as kubelogin would. */
export function runBrowser(url: string, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  return new Promise((resolve, reject) =>
    execFile(
      BROWSER_COMMAND,
      [url],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        err && typeof err.code !== 'number' && !stderr
          ? reject(err)
          : resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}
