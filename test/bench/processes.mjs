// Small helpers every benchmark script uses to run servers it measures: a free loopback port, a clean stop
// of a child process, and its memory as /proc reports it.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 right now. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

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

export const isJWT = (token) => typeof token === 'string' && token.split('.').length === 3;
