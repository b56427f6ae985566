import { readFile } from 'node:fs/promises';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { FrontendConfig } from '../../src/config/types.js';
import { BUILTIN_WEB_DIR, Frontend } from '../../src/frontend/frontend.js';
import { frontendAssets } from '../../src/frontend/static.js';

const customDir = fileURLToPath(new URL('./fixtures/custom/', import.meta.url));

const config = (over: Partial<FrontendConfig> = {}): FrontendConfig => ({
  theme: 'light',
  issuer: 'Latchkey',
  logoURL: 'theme/logo.png',
  extra: {},
  ...over,
});

/** Serves the assets under /dex on 127.0.0.1 with an ephemeral port; returns the base URL. */
async function serve(fe: Frontend): Promise<{ base: string; server: Server }> {
  const app = express();
  app.use('/dex', frontendAssets(fe));
  app.use((_req, res) => {
    res.status(418).send('fell through the asset router');
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, server };
}

/** GET with the path sent byte for byte (fetch would normalise "../" away before sending). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const builtin = (...p: string[]) => readFile(join(BUILTIN_WEB_DIR, ...p), 'utf8');
const custom = (...p: string[]) => readFile(join(customDir, ...p), 'utf8');

describe('frontendAssets with the built-in web/', () => {
  let base: string;
  let server: Server;
  beforeAll(async () => {
    ({ base, server } = await serve(await Frontend.load(config(), 'http://127.0.0.1/dex')));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('serves static/main.css with an hour of public caching', async () => {
    const res = await fetch(`${base}/dex/static/main.css`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/css/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(await res.text()).toBe(await builtin('static', 'main.css'));
  });

  it('serves the light theme at /theme', async () => {
    const css = await fetch(`${base}/dex/theme/styles.css`);
    expect(css.status).toBe(200);
    expect(await css.text()).toBe(await builtin('themes', 'light', 'styles.css'));
    const logo = await fetch(`${base}/dex/theme/logo.png`);
    expect(logo.status).toBe(200);
    expect(logo.headers.get('content-type')).toBe('image/png');
    expect(logo.headers.get('cache-control')).toBe('public, max-age=3600');
    const favicon = await fetch(`${base}/dex/theme/favicon.png`);
    expect(favicon.status).toBe(200);
  });

  it('serves robots.txt disallowing everything', async () => {
    const res = await fetch(`${base}/dex/robots.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('User-agent: *\nDisallow: /\n');
  });

  it('answers 404 for missing files and directories, without listings or redirects', async () => {
    for (const path of [
      '/dex/static/nope.css',
      '/dex/static/',
      '/dex/static',
      '/dex/static/img',
      '/dex/theme/',
    ]) {
      const res = await fetch(`${base}${path}`, { redirect: 'manual' });
      expect([path, res.status]).toEqual([path, 404]);
    }
  });

  it('answers 404 for "../" traversal, raw or percent-encoded', async () => {
    // Each of these names a real file outside the served directory.
    await expect(builtin('templates', 'login.html')).resolves.toContain('Connectors');
    for (const path of [
      '/dex/static/../templates/login.html',
      '/dex/static/img/../../templates/login.html',
      '/dex/theme/../../templates/login.html',
      '/dex/theme/../../../package.json',
    ]) {
      const res = await rawGet(base, path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.body).not.toContain('Connectors');
    }
    for (const path of [
      '/dex/static/..%2ftemplates%2flogin.html',
      '/dex/static/%2e%2e%2ftemplates%2flogin.html',
      '/dex/theme/..%2f..%2ftemplates%2flogin.html',
      '/dex/static/..%5ctemplates%5clogin.html',
    ]) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(await res.text()).not.toContain('Connectors');
    }
  });
});

describe('frontendAssets with a custom frontend.dir', () => {
  let base: string;
  let server: Server;
  beforeAll(async () => {
    ({ base, server } = await serve(
      await Frontend.load(config({ dir: customDir, theme: 'dark' }), 'http://h/dex'),
    ));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('serves custom static files and falls back to built-in ones', async () => {
    const own = await fetch(`${base}/dex/static/custom.css`);
    expect(own.status).toBe(200);
    expect(await own.text()).toBe(await custom('static', 'custom.css'));
    const fallback = await fetch(`${base}/dex/static/main.css`);
    expect(fallback.status).toBe(200);
    expect(await fallback.text()).toBe(await builtin('static', 'main.css'));
    const icon = await fetch(`${base}/dex/static/img/connector-icon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
  });

  it('serves the custom theme file first and the built-in dark theme for the rest', async () => {
    const css = await fetch(`${base}/dex/theme/styles.css`);
    expect(await css.text()).toBe(await custom('themes', 'dark', 'styles.css'));
    const logo = await fetch(`${base}/dex/theme/logo.png`);
    expect(logo.status).toBe(200);
    expect(Buffer.from(await logo.arrayBuffer())).toEqual(
      await readFile(join(BUILTIN_WEB_DIR, 'themes', 'dark', 'logo.png')),
    );
  });

  it('does not serve dotfiles or files inside dot-directories', async () => {
    await expect(custom('static', '.secret')).resolves.toBe('not for the web\n');
    for (const path of ['/dex/static/.secret', '/dex/static/.hidden/file.txt', '/dex/static/%2esecret']) {
      const res = await fetch(`${base}${path}`);
      expect([path, res.status]).toEqual([path, 404]);
      expect(await res.text()).not.toContain('not for the web');
    }
  });

  it('does not let a custom theme reach other themes or the templates', async () => {
    for (const path of ['/dex/theme/../corp/styles.css', '/dex/theme/../../templates/login.html']) {
      const res = await rawGet(base, path);
      expect([path, res.status]).toEqual([path, 404]);
    }
  });

  it('leaves other paths to the rest of the app', async () => {
    const res = await fetch(`${base}/dex/auth`);
    expect(res.status).toBe(418);
  });
});
