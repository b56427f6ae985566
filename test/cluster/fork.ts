import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

// Forks the TypeScript entries of ./children the way the sqlite tests run theirs (Node's type transform and
// the .js → .ts resolve hook), with an IPC channel that uses structured clone unless a test asks otherwise.

const hooks = fileURLToPath(new URL('../storage/sqlite/ts-hooks.mjs', import.meta.url));

export class TestChild {
  readonly process: ChildProcess;
  private stderr = '';

  constructor(
    private readonly entry: string,
    args: string[] = [],
    serialization: 'advanced' | 'json' = 'advanced',
  ) {
    // process.execPath is the Node 24 the test runner runs on (the project's node dependency).
    this.process = fork(fileURLToPath(new URL(`./children/${entry}`, import.meta.url)), args, {
      execPath: process.execPath,
      execArgv: [
        '--experimental-transform-types',
        '--disable-warning=ExperimentalWarning',
        '--import',
        hooks,
      ],
      serialization,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  get pid(): number {
    return this.process.pid!;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The first message that `matches`; rejects if the child exits before sending one. */
  message<T>(matches: (m: unknown) => m is T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if (!matches(m)) return;
        stopWaiting();
        resolve(m);
      };
      const onExit = (): void => {
        stopWaiting();
        reject(new Error(`child ${this.entry} exited before the message came:\n${this.stderr}`));
      };
      const stopWaiting = (): void => {
        this.process.off('message', onMessage);
        this.process.off('exit', onExit);
      };
      this.process.on('message', onMessage);
      this.process.on('exit', onExit);
      if (!this.running) onExit();
    });
  }

  /** Waits for the child's `{ testChild: 'ready' }`, sent once it serves. */
  ready(): Promise<unknown> {
    return this.message((m): m is unknown => (m as { testChild?: unknown } | null)?.testChild === 'ready');
  }

  /** Stops the child by its PID and waits for it to be gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    const exited = once(this.process, 'exit');
    process.kill(this.pid, signal);
    await exited;
  }
}

/** Settles like `p`, or fails after `ms` — a bound on a wait, never a pause. */
export async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `holds()` is true, checking after each turn of the event loop; fails after `ms`. */
export async function until(holds: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!holds()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
