import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, constants, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Small Go programs the tests build and run (one module per directory, e.g. test/go/oidc-verifier). */
export const GO_PROGRAMS_DIR = fileURLToPath(new URL('../go/', import.meta.url));

/** Built binaries live outside the repository, one directory per program and source hash. */
export const GO_PROGRAMS_CACHE =
  process.env.LATCHKEY_GO_PROGRAMS_CACHE ?? join(homedir(), '.cache', 'latchkey', 'go-test-programs');

const BUILD_ENV = {
  CGO_ENABLED: '0',
  GOFLAGS: '-trimpath -buildvcs=false',
  GOTOOLCHAIN: 'local',
  GOWORK: 'off',
};
const BUILD_TIMEOUT_MS = 10 * 60_000;

const builds = new Map<string, Promise<string>>();

/**
 * Builds test/go/<name> with the machine's Go (once per process, and once per machine: the binary is cached
 * under GO_PROGRAMS_CACHE/<name>-<hash of its go.mod, go.sum and sources>/) and returns the binary's absolute
 * path. A failed build throws with the compiler's output: a missing Go fails the test, it never skips it.
 */
export function buildGoProgram(name: string): Promise<string> {
  let build = builds.get(name);
  if (!build) {
    build = buildOnce(name);
    builds.set(name, build);
    build.catch(() => builds.delete(name));
  }
  return build;
}

async function buildOnce(name: string): Promise<string> {
  const src = join(GO_PROGRAMS_DIR, name);
  const hash = createHash('sha256').update(JSON.stringify(BUILD_ENV));
  const files = (await readdir(src, { withFileTypes: true }))
    .filter((e) => e.isFile() && (e.name === 'go.mod' || e.name === 'go.sum' || e.name.endsWith('.go')))
    .map((e) => e.name)
    .sort();
  if (!files.includes('go.mod') || !files.includes('go.sum')) {
    throw new Error(`test/go/${name}: needs a go.mod and a go.sum (run \`go mod tidy\` there)`);
  }
  for (const f of files) hash.update(`\0${f}\0`).update(await readFile(join(src, f)));
  const dir = join(GO_PROGRAMS_CACHE, `${name}-${hash.digest('hex').slice(0, 16)}`);
  const bin = join(dir, name);
  if (await isExecutable(bin)) return bin;

  await mkdir(dir, { recursive: true });
  // Build beside the final path and rename, so a concurrent or interrupted build never leaves half a binary.
  const tmp = `${bin}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const result = await runProgram('go', ['build', '-o', tmp, '.'], {
    cwd: src,
    env: { ...process.env, ...BUILD_ENV },
    timeoutMs: BUILD_TIMEOUT_MS,
  }).catch(async (e: unknown) => {
    await rm(tmp, { force: true });
    throw new Error(`go build of test/go/${name} could not run (Go 1.26+ must be on PATH): ${String(e)}`, {
      cause: e,
    });
  });
  if (result.code !== 0) {
    await rm(tmp, { force: true });
    throw new Error(
      `go build of test/go/${name} failed (exit ${result.code ?? result.signal}):\n${result.stderr}${result.stdout}`,
    );
  }
  await rename(tmp, bin);
  return bin;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface ProgramResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a short-lived program (by absolute path, no shell) with `input` on stdin and resolves with its exit
 * status and output, whatever the status. Rejects if it cannot be started or outlives `timeoutMs`.
 */
export function runProgram(
  file: string,
  args: string[],
  opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProgramResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code === 'string') return reject(err);
        if (err?.killed) {
          return reject(
            new Error(`${file} timed out after ${timeoutMs} ms\n${stderr}${stdout}`, { cause: err }),
          );
        }
        resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
      },
    );
    child.stdin?.on('error', () => {}); // the program may exit without reading stdin (EPIPE)
    child.stdin?.end(opts.input ?? '');
  });
}
