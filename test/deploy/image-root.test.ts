import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { StopWaiting, waitFor } from '../helpers/wait.js';
import { ok, run } from './helpers.js';

// The container image without a Docker engine: scripts/image-root.sh lays out the image's files in a
// folder, and Latchkey is started from there alone (its own Node, its own production node_modules) — with
// a page customised the way the seed customises Dex's image (`COPY web /srv/latchkey/web`).

describe('the image filesystem (scripts/image-root.sh)', () => {
  let dir: string;
  let root: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-image-test-'));
    root = join(dir, 'root');
    ok(await run('bash', [join(REPO_ROOT, 'scripts/image-root.sh'), root]), 'image-root.sh');
  }, 5 * 60_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('holds what the Dockerfile copies and links, and no development dependencies', async () => {
    const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    // COPY --from=build <sources...> <destination>: each source lands in the destination (a folder when it
    // ends with "/", else the path itself).
    const copies = [...dockerfile.matchAll(/^COPY --from=build (.+)$/gm)].map((m) =>
      m[1]!.trim().split(/\s+/),
    );
    expect(copies.length).toBeGreaterThan(0);
    for (const words of copies) {
      const dest = words.at(-1)!;
      for (const src of words.slice(0, -1)) {
        const target = dest.endsWith('/') ? join(dest, src.split('/').at(-1)!) : dest;
        await expect(access(join(root, target))).resolves.toBeUndefined();
      }
    }
    const links = [...dockerfile.matchAll(/ln -s (\S+) (\S+)/g)];
    expect(links.length).toBeGreaterThan(0);
    for (const [, target, path] of links) expect(await readlink(join(root, path!))).toBe(target);
    const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(dockerfile)![1]!) as string[];
    for (const path of entrypoint) await expect(access(join(root, path))).resolves.toBeUndefined();
    // npm ci --omit=dev: runtime packages only.
    await expect(access(join(root, 'app/node_modules/express/package.json'))).resolves.toBeUndefined();
    for (const dev of ['typescript', 'jest', 'node', 'eslint']) {
      await expect(access(join(root, 'app/node_modules', dev))).rejects.toThrow();
    }
  });

  it('starts Latchkey from the folder alone, serving discovery and the (customised) web files', async () => {
    // The seed's customisation: a changed file copied over the image's web folder.
    await writeFile(join(root, 'srv/latchkey/web/themes/light/styles.css'), '/* customised theme */\n');
    const webPort = await freePort();
    const telemetryPort = await freePort();
    const issuer = `http://127.0.0.1:${webPort}/dex`;
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      [
        `issuer: ${issuer}`,
        'storage:\n  type: memory',
        `web:\n  http: 127.0.0.1:${webPort}`,
        `telemetry:\n  http: 127.0.0.1:${telemetryPort}`,
        'enablePasswordDB: true',
      ].join('\n'),
    );
    // A bare environment and the folder as working directory: nothing from the repository or the
    // machine's Node.js can stand in for a missing file.
    const child: ChildProcess = spawn(
      join(root, 'usr/local/bin/node'),
      [join(root, 'app/bin/latchkey.js'), 'serve', config],
      { cwd: join(root, 'app'), env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const discovery = await waitFor(
        async () => {
          if (child.exitCode !== null)
            throw new StopWaiting(`latchkey exited with ${child.exitCode}:\n${output}`);
          const res = await fetch(`${issuer}/.well-known/openid-configuration`);
          return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
        },
        { what: 'discovery from the image root', timeoutMs: 30_000 },
      );
      expect(discovery).toMatchObject({
        issuer,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/keys`,
      });
      const theme = await fetch(`${issuer}/theme/styles.css`);
      expect(await theme.text()).toBe('/* customised theme */\n');
      // Untouched files keep the image's defaults.
      const css = await fetch(`${issuer}/static/main.css`);
      expect(css.status).toBe(200);
      expect(await css.text()).toBe(await readFile(join(REPO_ROOT, 'web/static/main.css'), 'utf8'));
      const live = await fetch(`http://127.0.0.1:${telemetryPort}/healthz/live`);
      expect(live.status).toBe(200);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
    }
  });
});
