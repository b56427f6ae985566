import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { StopWaiting, waitFor } from './wait.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/latchkey.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (compiled by `npm test`'s pretest) on the Node that runs the tests. */
export function runCli(
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // it may exit before reading its input: the exit code tells
    child.stdin.end(opts.input ?? '');
  });
}

export interface ServerProcess {
  child: ChildProcess;
  output: () => string;
  /** Sends SIGTERM to this process (by its PID) and resolves with its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `latchkey serve <config>` and waits until `readyUrl` answers 200. */
export async function startServer(
  configFile: string,
  readyUrl: string,
  opts: { env?: NodeJS.ProcessEnv; extraArgs?: string[] } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...(opts.extraArgs ?? []), configFile], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const handle: ServerProcess = {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
      return exited;
    },
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new StopWaiting(`server exited with ${child.exitCode}:\n${out}`);
        const res = await fetch(readyUrl);
        return res.ok;
      },
      { what: `${readyUrl} to answer`, timeoutMs: 30_000 },
    );
  } catch (e) {
    await handle.stop();
    throw new Error(`${(e as Error).message}\n--- server output ---\n${out}`, { cause: e });
  }
  return handle;
}

/** The PIDs of a process's children (a primary's workers), sorted. */
export async function childPids(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`);
  const children = await Promise.all(
    tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')),
  );
  return children
    .join(' ')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
}
