import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { SLAPD, type Slapd } from './slapd.js';
import { StopWaiting, waitFor } from './wait.js';

// An outage of a running slapd (test/helpers/slapd.ts): stopped by its PID, and later started again on the
// same directory, configuration and ports, so a Latchkey pointed at it sees the same server come back.
// Slapd.stop() removes the directory; these keep it.

export interface RestartedSlapd {
  pid: number;
  /** SIGTERM by PID and wait for the exit (the directory stays, for the original handle to remove). */
  stop(): Promise<void>;
}

/** Whether a process with this PID still exists (a reaped child no longer does). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends SIGTERM to `pid` and polls until the process is gone. */
export async function stopByPid(pid: number, what = `process ${pid}`): Promise<void> {
  if (!isRunning(pid)) return;
  process.kill(pid, 'SIGTERM');
  await waitFor(() => !isRunning(pid), { what: `${what} to exit`, timeoutMs: 15_000, intervalMs: 50 });
}

/** Starts slapd again where `original` ran (after it was stopped) and waits until it accepts a bind. */
export async function restartSlapd(original: Slapd): Promise<RestartedSlapd> {
  const ldapURL = `ldap://${original.ldapHost}`;
  const child = spawn(
    SLAPD,
    ['-f', join(original.dir, 'slapd.conf'), '-h', `${ldapURL}/ ldaps://${original.ldapsHost}/`, '-d', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const handle: RestartedSlapd = {
    pid: child.pid!,
    stop: async () => {
      if (running()) process.kill(child.pid!, 'SIGTERM');
      await exited;
    },
  };
  try {
    await waitFor(
      async () => {
        if (!running()) throw new StopWaiting(`slapd exited with ${child.exitCode}:\n${out}`);
        const client = new Client({ url: ldapURL, connectTimeout: 1_000, timeout: 1_000 });
        try {
          await client.bind(original.rootDN, original.rootPW);
          return true;
        } finally {
          await client.unbind().catch(() => {});
        }
      },
      { what: `slapd again on ${ldapURL}`, timeoutMs: 20_000, intervalMs: 50 },
    );
  } catch (e) {
    await handle.stop();
    throw e;
  }
  return handle;
}
