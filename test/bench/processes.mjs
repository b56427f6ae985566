// Small helpers every benchmark script uses to run servers it measures: a free loopback port, waiting for a
// server to serve, the peer (node-oidc-provider) as a child, a clean stop of a child process, and its memory
// and CPU time as /proc reports them.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 right now. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * Polls `issuer`'s discovery document until it answers 200 (the server started by `child` serves), every
 * `pollMs`; fails once the child has exited or after `timeoutMs`.
 */
export async function waitForDiscovery(
  child,
  issuer,
  { what = 'latchkey serve', timeoutMs = 60_000, pollMs = 100 } = {},
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(`${issuer}/.well-known/openid-configuration`)).ok) return;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** SIGTERM, resolved once the child has exited, so the next server is measured alone. */
export const stopChild = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/** Resident set (VmRSS) and its peak (VmHWM) of a running process, in bytes. */
export async function rssOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kB = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kB('VmRSS'), hwm: kB('VmHWM') };
}

/** /proc's clock ticks per second (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used. */
async function cpuOfOne(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses: utime is the 14th field.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** The live children of a process (a primary's workers). */
async function childrenOf(pid) {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const lists = await Promise.all(
    tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')),
  );
  return lists.join(' ').split(/\s+/).filter(Boolean).map(Number);
}

/** CPU seconds used so far by a process and its live children (a primary and its workers). */
export async function cpuSecondsOf(pid) {
  const pids = [pid, ...(await childrenOf(pid))];
  const each = await Promise.all(pids.map((p) => cpuOfOne(p).catch(() => 0)));
  return each.reduce((a, b) => a + b, 0);
}

export const isJWT = (token) => typeof token === 'string' && token.split('.').length === 3;

/**
 * node-oidc-provider as a child process; it prints `{"issuer", "refreshToken"}` on one stdout line once
 * listening (its refresh token comes from its own Grant/RefreshToken models, see oidc-provider-server.mjs).
 */
export async function startOidcProvider() {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('oidc-provider-server.mjs', import.meta.url)), String(await freePort())],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Its stderr, minus the start-up warning about the in-memory adapter (reported in our own output).
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (!line.includes('development-only in-memory adapter')) console.error(line);
  });
  const started = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('node-oidc-provider did not start')), 30_000);
    child.once('exit', (code) => reject(new Error(`node-oidc-provider exited (${code})`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
  });
  return { ...started, pid: child.pid, stop: () => stopChild(child) };
}
