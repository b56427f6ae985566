import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { StopWaiting, waitFor } from '../helpers/wait.js';
import { run, ok } from '../deploy/helpers.js';
import {
  DESKTOP,
  bodyBackground,
  launchChromium,
  screenshotDir,
  seriousAxeViolations,
  watchProblems,
  type Chromium,
} from '../helpers/chromium.js';
import { portedDexPasswordPage, readmeBlock } from './readme.js';

// Seed §4 "Customize the official container image", as the README writes it (`FROM latchkey:<version>` +
// `COPY --chown=root:root web /srv/latchkey/web`), checked without a Docker engine: scripts/image-root.sh lays
// out the image's files in a folder, the recipe's COPY is applied to that folder with a web/ holding only
// the README's ported password.html, its script and a theme, and Latchkey started from the folder alone
// (its own Node and node_modules, no frontend.dir) serves that page in Chromium, the others built in.

const HASH = '$2b$10$JULHpw9.mXu7HSfTV1/gMuhJJB5EMdGu0ck4aSqgQgHrODnGv0WrW'; // bcrypt of "password"

describe('the README image recipe on the scripted image root', () => {
  let dir: string;
  let root: string;
  let chromium: Chromium;
  let latchkey: ChildProcess | undefined;
  let exited: Promise<void> | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-image-recipe-'));
    root = join(dir, 'root');
    ok(await run('bash', [join(REPO_ROOT, 'scripts/image-root.sh'), root]), 'image-root.sh');
    chromium = await launchChromium();
  }, 5 * 60_000);

  afterAll(async () => {
    if (latchkey && latchkey.exitCode === null && latchkey.signalCode === null) {
      process.kill(latchkey.pid!, 'SIGTERM');
    }
    await exited;
    await chromium?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('FROM the project image, COPY web over /srv/latchkey/web: the copied page is served, the rest built in', async () => {
    const recipe = (await readmeBlock('Customising the login pages', 'dockerfile', 'COPY'))
      .trim()
      .split('\n');
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    // The image the Dockerfile builds, and the folder it puts the web files in.
    const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`docker build -t latchkey:${version} .`);
    expect(dockerfile).toMatch(/^COPY --from=build \/src\/web \/srv\/latchkey\/web$/m);
    expect(recipe).toEqual([`FROM latchkey:${version}`, 'COPY --chown=root:root web /srv/latchkey/web']);
    const [, source, destination] = /^COPY --chown=\S+ (\S+) (\S+)$/.exec(recipe[1]!)!;

    // The user's web/: the ported password page, its script and a theme; nothing else.
    const web = join(dir, source!);
    const ported = await portedDexPasswordPage();
    await mkdir(join(web, 'templates'), { recursive: true });
    await writeFile(join(web, 'templates/password.html'), ported.template);
    await mkdir(join(web, 'static'));
    await writeFile(join(web, 'static/password.js'), ported.script);
    await mkdir(join(web, 'themes/corp'), { recursive: true });
    const light = await readFile(join(REPO_ROOT, 'web/themes/light/styles.css'), 'utf8');
    await writeFile(
      join(web, 'themes/corp/styles.css'),
      light.replace('--lk-bg: #f4f6f8;', '--lk-bg: #fdf6e3;'),
    );
    // COPY of a folder onto a folder: its files are added, replacing those of the same name.
    await cp(web, join(root, destination!), { recursive: true, force: true });

    const webPort = await freePort();
    const telemetryPort = await freePort();
    const issuer = `http://127.0.0.1:${webPort}/dex`;
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      stringify({
        issuer,
        storage: { type: 'memory' },
        web: { http: `127.0.0.1:${webPort}` },
        telemetry: { http: `127.0.0.1:${telemetryPort}` },
        frontend: { theme: 'corp', extra: { login_help: 'Call the help desk.' } },
        staticClients: [
          {
            id: 'cli',
            name: 'Command Line',
            public: true,
            redirectURIs: ['http://localhost:8000'],
          },
        ],
        connectors: [{ type: 'mockCallback', id: 'mock', name: 'Example' }],
        enablePasswordDB: true,
        staticPasswords: [{ email: 'alice@example.com', hash: HASH, username: 'alice', userID: 'alice-id' }],
      }),
    );
    // A bare environment and the folder as working directory: nothing from the repository can stand in.
    latchkey = spawn(join(root, 'usr/local/bin/node'), [join(root, 'app/bin/latchkey.js'), 'serve', config], {
      cwd: join(root, 'app'),
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    latchkey.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    latchkey.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const child = latchkey;
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new StopWaiting(`latchkey exited with ${child.exitCode}:\n${output}`);
        return (await fetch(`http://127.0.0.1:${telemetryPort}/healthz/ready`)).ok;
      },
      { what: 'Latchkey from the image root', timeoutMs: 30_000 },
    );

    const context = await chromium.browser.newContext({ viewport: DESKTOP });
    const problems = await watchProblems(context);
    const page = await context.newPage();
    try {
      await page.goto(
        `${issuer}/auth?${new URLSearchParams({
          client_id: 'cli',
          redirect_uri: 'urn:ietf:wg:oauth:2.0:oob',
          response_type: 'code',
          scope: 'openid email',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        })}`,
      );
      // The image's own chooser, in the copied theme.
      expect(await page.locator('h1').innerText()).toBe('Log in to Latchkey');
      expect(await bodyBackground(page)).toBe('rgb(253, 246, 227)');
      await page.getByRole('link', { name: 'Log in with Email' }).click();
      // The copied password page.
      expect(await page.locator('.theme-heading').innerText()).toBe('Log in to Your Account');
      expect(await page.locator('main p.dex-subtle-text').innerText()).toBe('Call the help desk.');
      expect(await seriousAxeViolations(page)).toEqual([]);
      await page.screenshot({
        path: join(await screenshotDir('image-recipe'), 'password.png'),
        fullPage: true,
      });
      await page.getByLabel('Email Address').fill('alice@example.com');
      await page.getByLabel('Password').fill('password');
      await page.getByRole('button', { name: 'Login' }).click();
      // The image's own approval and code pages.
      await page.getByRole('button', { name: 'Grant access' }).click();
      expect(await page.locator('h1').innerText()).toBe('Login successful');
      expect(await page.getByLabel('Code').inputValue()).toMatch(/.{16,}/);
      expect(problems).toEqual({ cspViolations: [], consoleErrors: [], failedResources: [], dialogs: [] });
    } finally {
      await context.close();
    }
    // The image's other web files are untouched.
    expect(await readFile(join(root, destination!, 'templates/approval.html'), 'utf8')).toBe(
      await readFile(join(REPO_ROOT, 'web/templates/approval.html'), 'utf8'),
    );
  }, 60_000);
});
