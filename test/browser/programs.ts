import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { StopWaiting, waitFor } from '../helpers/wait.js';

/** The CLI compiled by `npm test`'s pretest, and the bearer API example (Node 24 runs its TypeScript). */
export const LATCHKEY_BIN = join(REPO_ROOT, 'bin/latchkey.js');
export const BEARER_API = join(REPO_ROOT, 'examples/bearer-api/server.ts');

export interface Program {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Sends SIGTERM to this process (by its PID) unless it has exited, and waits for it. */
  stop(): Promise<number | null>;
}

/** Starts a program of this repository on the Node that runs the tests. */
export function startProgram(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Program {
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
      return exited;
    },
  };
}

/** Waits until `url` answers 200, failing at once if the program exits first. */
export async function waitForHttp(program: Program, url: string): Promise<void> {
  await waitFor(
    async () => {
      if (program.child.exitCode !== null) {
        throw new StopWaiting(
          `exited with ${program.child.exitCode}:\n${program.stdout()}\n${program.stderr()}`,
        );
      }
      return (await fetch(url)).ok;
    },
    { what: `${url} to answer`, timeoutMs: 30_000 },
  );
}

/** Waits until the program's standard error matches `pattern`; returns the match. */
export function waitForStderr(program: Program, pattern: RegExp): Promise<RegExpExecArray> {
  return waitFor(
    () => {
      const m = pattern.exec(program.stderr());
      if (!m && program.child.exitCode !== null) {
        throw new StopWaiting(`exited with ${program.child.exitCode}:\n${program.stderr()}`);
      }
      return m ?? undefined;
    },
    { what: `output matching ${pattern}` },
  );
}
