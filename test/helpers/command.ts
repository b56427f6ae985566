import { execFile } from 'node:child_process';
import { REPO_ROOT } from './cli.js';

// Running a command-line tool from a test (kubectl, helm, openssl, slapadd, …): its exit code and output,
// never a thrown error for a non-zero exit — the caller decides what a failure means.

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCommand(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        cwd: opts.cwd ?? REPO_ROOT,
        env: { ...process.env, ...opts.env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 300_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr: err && code === 1 && !stderr ? err.message : stderr });
      },
    );
    // A command that reads no input (openssl genpkey) may exit before it is written: the pipe's EPIPE is
    // no failure of the command, whose exit code tells.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}
