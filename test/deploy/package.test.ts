import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';
import { ok, run } from './helpers.js';

// The npm package: `npm pack` makes a tarball from which `npx latchkey kubeconfig` works. Installing it from
// the registry's metadata needs the network, so the tarball is installed the way npm lays it out, by hand:
// unpacked into <project>/node_modules/latchkey, its production dependencies installed from the repository's
// lockfile out of the npm cache (npm ci --omit=dev --offline: what `npm ci` already downloaded), and the bin
// linked into node_modules/.bin. Only the tarball's own files and runtime dependencies are there, so a file
// missing from package.json's `files`, or a runtime package declared as a devDependency, fails here.

interface PackResult {
  filename: string;
  files: { path: string }[];
}

describe('the npm package (npm pack)', () => {
  let dir: string;
  let project: string;
  let pack: PackResult;
  // The bin's `#!/usr/bin/env node` must find the Node.js 24 that runs the tests, not the machine's.
  const env = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}` };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-package-test-'));
    // --ignore-scripts: prepack would rebuild dist/ under the suites running beside this one; npm test's
    // pretest has just built it, and the test below checks that prepack builds it for a real `npm pack`.
    const packed = ok(
      await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { env }),
      'npm pack',
    );
    pack = (JSON.parse(packed.stdout) as PackResult[])[0]!;
    project = join(dir, 'project');
    const pkgDir = join(project, 'node_modules/latchkey');
    await mkdir(pkgDir, { recursive: true });
    ok(await run('tar', ['-xzf', join(dir, pack.filename), '-C', pkgDir, '--strip-components=1']), 'tar');
    await copyFile(join(REPO_ROOT, 'package-lock.json'), join(pkgDir, 'package-lock.json'));
    ok(
      await run('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], {
        cwd: pkgDir,
        env,
      }),
      'npm ci --omit=dev --offline in the unpacked package',
    );
    await mkdir(join(project, 'node_modules/.bin'));
    await symlink('../latchkey/bin/latchkey.js', join(project, 'node_modules/.bin/latchkey'));
  }, 5 * 60_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is publishable, builds dist/ before packing, and holds the runtime files only', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      private?: boolean;
      version: string;
      scripts: Record<string, string>;
    };
    expect(pkg.private).toBeUndefined();
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(pack.filename).toBe(`latchkey-${pkg.version}.tgz`);
    const paths = pack.files.map((f) => f.path);
    for (const needed of [
      'package.json',
      'bin/latchkey.js',
      'dist/cli/main.js',
      'web/templates/login.html',
      'manifests/crds/oauth2clients.yaml',
    ]) {
      expect(paths).toContain(needed);
    }
    expect(paths.filter((p) => /^(src|test|charts|scripts|node_modules)\//.test(p))).toEqual([]);
  });

  it('runs `latchkey --help`, `latchkey kubeconfig --help` and `npx latchkey version` from the install', async () => {
    const latchkey = join(project, 'node_modules/.bin/latchkey');
    const help = ok(await run(latchkey, ['--help'], { cwd: project, env }), 'latchkey --help');
    expect(help.stdout).toMatch(/^Usage: latchkey /m);
    expect(help.stdout).toMatch(/^\s+kubeconfig\s/m);
    const kubeconfigHelp = ok(
      await run(latchkey, ['kubeconfig', '--help'], { cwd: project, env }),
      'latchkey kubeconfig --help',
    );
    expect(kubeconfigHelp.stdout).toMatch(/^Usage: latchkey kubeconfig /m);
    // npx finds the installed bin in the project (offline: nothing to fetch).
    const version = ok(
      await run('npx', ['--offline', '--no', 'latchkey', 'version'], { cwd: project, env }),
      'npx latchkey version',
    );
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(version.stdout).toContain(`Latchkey Version: ${pkg.version}`);
  });
});
