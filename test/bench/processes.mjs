// Small helpers every benchmark script uses to run servers it measures: a free loopback port, a clean stop
// of a child process, and its memory and CPU time as /proc reports them.
import { readdir, readFile } from 'node:fs/promises';
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
