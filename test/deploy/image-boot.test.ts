import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { StopWaiting, waitFor } from '../helpers/wait.js';
import { ok, run } from './helpers.js';

// The container image as users get it: `npm run image` (scripts/build-image.sh) writes an OCI archive; this
// suite reads it back the way the tools that load it do (skopeo, then umoci to unpack it into a runtime
// bundle) and boots the image's own entrypoint in it.
//
// Runtime: Debian's runc (installed by scripts/provision-test-deps.sh). It runs the container in its own
// mount, PID, IPC and UTS namespaces with the image's rootfs as `/` and the image's uid, so only the image's
// files (its Node.js, its shared libraries, its node_modules) can be used. Debian's crun was tried first and
// refuses this machine ("cgroups in hybrid mode not supported"); runc starts here, so chroot is not needed.
// The container shares the host's network namespace, so that discovery can be fetched from 127.0.0.1.

interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Env?: string[];
  ExposedPorts?: Record<string, object>;
  Labels?: Record<string, string>;
}

/** The runtime settings the Dockerfile's final stage gives its image. */
function dockerfileSettings(dockerfile: string): {
  user: string;
  entrypoint: string[];
  cmd: string[];
  workdir: string;
  ports: string[];
} {
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const line = (instruction: string): string => {
    const m = new RegExp(`^${instruction} (.+)$`, 'm').exec(finalStage);
    if (!m) throw new Error(`the Dockerfile's final stage has no ${instruction}`);
    return m[1]!.trim();
  };
  return {
    user: line('USER'),
    entrypoint: JSON.parse(line('ENTRYPOINT')) as string[],
    cmd: JSON.parse(line('CMD')) as string[],
    workdir: line('WORKDIR'),
    ports: line('EXPOSE')
      .split(/\s+/)
      .map((p) => `${p}/tcp`),
  };
}

describe('the OCI image archive (npm run image)', () => {
  let dir: string;
  let archive: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-image-boot-'));
    archive = join(dir, 'latchkey.oci.tar');
    ok(await run('bash', [join(REPO_ROOT, 'scripts/build-image.sh'), archive]), 'build-image.sh');
  }, 5 * 60_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is named for docker load and containerd, and carries the Dockerfile runtime settings', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const member = async (name: string): Promise<unknown> =>
      JSON.parse(ok(await run('tar', ['-xOf', archive, name]), `tar ${name}`).stdout);
    const index = (await member('index.json')) as {
      manifests: { annotations?: Record<string, string> }[];
    };
    expect(index.manifests).toHaveLength(1);
    // ctr images import and kind load image-archive name the image from this annotation.
    expect(index.manifests[0]!.annotations).toMatchObject({
      'io.containerd.image.name': `docker.io/library/latchkey:${pkg.version}`,
      'org.opencontainers.image.ref.name': pkg.version,
    });
    // docker load (before Docker 25, which reads the OCI index itself) tags from manifest.json.
    expect(await member('manifest.json')).toMatchObject([{ RepoTags: [`latchkey:${pkg.version}`] }]);

    const image = JSON.parse(
      ok(await run('skopeo', ['inspect', '--config', `oci-archive:${archive}`]), 'skopeo inspect').stdout,
    ) as { architecture: string; os: string; config: ImageConfig };
    expect(image).toMatchObject({ architecture: 'amd64', os: 'linux' });
    const docker = dockerfileSettings(await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    const config = image.config;
    expect(config.User).toBe(docker.user);
    expect(config.User).not.toMatch(/^(0|root)(:|$)/);
    expect(config.Entrypoint).toEqual(docker.entrypoint);
    expect(config.Cmd).toEqual(docker.cmd);
    expect(config.WorkingDir).toBe(docker.workdir);
    expect(Object.keys(config.ExposedPorts ?? {}).sort()).toEqual([...docker.ports].sort());
    expect(config.Env).toContain('NODE_ENV=production');
    expect(config.Labels).toMatchObject({
      'org.opencontainers.image.title': 'Latchkey',
      'org.opencontainers.image.version': pkg.version,
      'org.opencontainers.image.licenses': 'Apache-2.0',
    });
  });

  it('imports into containerd the way `kind load image-archive` does, under the chart image name', async () => {
    // A private containerd (Debian's; its own root, state and socket in the test's folder) and kind's own
    // import command line, run on a node: ctr -n k8s.io images import --all-platforms --digests.
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const home = join(dir, 'containerd');
    const socket = join(home, 'sock');
    const containerd: ChildProcess = spawn(
      'containerd',
      [
        '--root',
        join(home, 'root'),
        '--state',
        join(home, 'state'),
        '--address',
        socket,
        '--config',
        '/dev/null',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    containerd.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<void>((resolve) => containerd.once('exit', () => resolve()));
    try {
      await waitFor(
        async () => {
          if (containerd.exitCode !== null)
            throw new StopWaiting(`containerd exited with ${containerd.exitCode}:\n${log}`);
          return (await run('ctr', ['--address', socket, 'version'])).code === 0;
        },
        { what: 'containerd to answer', timeoutMs: 30_000 },
      );
      const ctr = (args: string[]) => run('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args]);
      ok(await ctr(['images', 'import', '--all-platforms', '--digests', archive]), 'ctr images import');
      const images = ok(await ctr(['images', 'ls', '--quiet']), 'ctr images ls').stdout.split('\n');
      // The name a pod's `image: latchkey:<version>` (the chart's default) resolves to.
      expect(images).toContain(`docker.io/library/latchkey:${pkg.version}`);
    } finally {
      if (containerd.exitCode === null && containerd.signalCode === null)
        process.kill(containerd.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
      if (containerd.exitCode === null && containerd.signalCode === null)
        process.kill(containerd.pid!, 'SIGKILL');
    }
  }, 60_000);

  it('boots its entrypoint under runc, as its non-root uid, and serves discovery', async () => {
    // skopeo copy oci-archive: -> an OCI layout, then umoci unpack -> a runtime bundle (rootfs/ and a
    // config.json umoci derives from the image config: args, uid, env, cwd).
    const layout = join(dir, 'layout');
    ok(
      await run('skopeo', ['copy', '--quiet', `oci-archive:${archive}`, `oci:${layout}:latchkey`]),
      'skopeo copy',
    );
    const bundle = join(dir, 'bundle');
    ok(await run('umoci', ['unpack', '--image', `${layout}:latchkey`, bundle]), 'umoci unpack');
    const rootfs = join(bundle, 'rootfs');
    // "No shell needed": there is none to fall back on.
    await expect(access(join(rootfs, 'bin/sh'))).rejects.toThrow();

    const webPort = await freePort();
    const telemetryPort = await freePort();
    const issuer = `http://127.0.0.1:${webPort}/dex`;
    const configFile = join(dir, 'config.yaml');
    await writeFile(
      configFile,
      [
        `issuer: ${issuer}`,
        'storage:\n  type: memory',
        `web:\n  http: 127.0.0.1:${webPort}`,
        `telemetry:\n  http: 127.0.0.1:${telemetryPort}`,
        'enablePasswordDB: true',
      ].join('\n'),
      { mode: 0o644 },
    );
    // Changed from umoci's config only where this machine differs from a cluster node: the config file is
    // mounted where the image's CMD reads it (as the chart's ConfigMap is), the root is read-only (as the
    // chart's readOnlyRootFilesystem), the host's network is shared, and output is piped, not a terminal.
    type RuntimeSpec = {
      process: { terminal: boolean; args: string[]; user: { uid: number } };
      root: { readonly?: boolean };
      mounts: { destination: string; type?: string; source?: string; options?: string[] }[];
      linux: { namespaces: { type: string }[] };
    };
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as RuntimeSpec;
    expect(spec.process.args).toEqual([
      '/usr/local/bin/node',
      '/app/bin/latchkey.js',
      'serve',
      '/etc/latchkey/config.yaml',
    ]);
    expect(spec.process.user.uid).toBe(1000);
    spec.process.terminal = false;
    spec.root.readonly = true;
    spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'network');
    spec.mounts.push({
      destination: '/etc/latchkey/config.yaml',
      type: 'bind',
      source: configFile,
      options: ['bind', 'ro'],
    });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));

    const id = `latchkey-image-boot-${process.pid}`;
    const child: ChildProcess = spawn('runc', ['run', '--bundle', bundle, id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const discovery = await waitFor(
        async () => {
          if (child.exitCode !== null)
            throw new StopWaiting(`runc exited with ${child.exitCode}:\n${output}`);
          const res = await fetch(`${issuer}/.well-known/openid-configuration`);
          return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
        },
        { what: 'discovery from the container', timeoutMs: 30_000 },
      );
      expect(discovery).toMatchObject({ issuer, token_endpoint: `${issuer}/token` });
      const keys = await fetch(`${issuer}/keys`);
      expect(keys.status).toBe(200);
      // The server is the image's process, as the image's uid: runc's state names its PID on this host.
      const state = JSON.parse(ok(await run('runc', ['state', id]), 'runc state').stdout) as {
        pid: number;
      };
      const status = await readFile(`/proc/${state.pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe('1000');
      expect(await readFile(`/proc/${state.pid}/cmdline`, 'utf8')).toContain('/app/bin/latchkey.js');
      // The CLI on the image's PATH, as `kubectl exec deploy/latchkey -- latchkey ...` runs it: its
      // `#!/usr/bin/env node` line must find env and node without a shell.
      const cli = ok(await run('runc', ['exec', id, 'latchkey', 'version']), 'runc exec latchkey version');
      expect(cli.stdout).toMatch(/^Latchkey Version: /m);
    } finally {
      // runc run forwards the signal to the container's process and exits with it.
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      // Nothing of the container may outlive the test (a no-op when runc already cleaned it up).
      await run('runc', ['delete', '--force', id]);
    }
  }, 60_000);
});
