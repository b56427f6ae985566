import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Runs worker.ts in several processes at once and returns what each printed last.

const hooks = fileURLToPath(new URL('./ts-hooks.mjs', import.meta.url));
const worker = fileURLToPath(new URL('./worker.ts', import.meta.url));

interface Running {
  ready: Promise<void>;
  done: Promise<unknown>;
  go(): void;
}

function start(args: string[]): Running {
  // process.execPath is the Node 24 the test runner runs on (the project's node dependency).
  const child = spawn(
    process.execPath,
    [
      '--experimental-transform-types',
      '--disable-warning=ExperimentalWarning',
      '--import',
      hooks,
      worker,
      ...args,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.startsWith('ready\n')) markReady();
  });
  // A worker that died early has closed its stdin; its exit code already tells the story.
  child.stdin.on('error', () => undefined);
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<unknown>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      markReady();
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0) reject(new Error(`worker ${args.join(' ')} exited with ${code}: ${stderr}`));
      else resolve(JSON.parse(last));
    });
  });
  return { ready, done, go: () => child.stdin.end('go\n') };
}

/** Starts one worker per argument list, releases them together once all are ready, returns their results. */
export async function raceWorkers<R>(argLists: string[][]): Promise<R[]> {
  const workers = argLists.map(start);
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.go();
  return (await Promise.all(workers.map((w) => w.done))) as R[];
}
