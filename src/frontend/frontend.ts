import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Liquid } from 'liquidjs';
import type { FrontendConfig } from '../config/types.js';

/** The pages the server renders; every other file in templates/ is a partial or layout. */
export const TEMPLATE_NAMES = [
  'login.html',
  'password.html',
  'approval.html',
  'oob.html',
  'error.html',
  'device.html',
  'device_success.html',
  'logout.html',
  'home.html',
] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** The shipped web/ directory: `../../web/` is the same place from src/frontend (tests) and dist/frontend. */
export const BUILTIN_WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
export const DEFAULT_THEME = 'light';

// Absolute URLs with these schemes (and data:image/…) pass through `url`; any other scheme (javascript:,
// file:, …) renders as "" so a config or client value can never become script in an href or src.
const PASS_THROUGH_SCHEMES = new Set(['http:', 'https:', 'mailto:']);
const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
const THEME_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Templates, theme and static files, each looked up first in `frontend.dir` and then in the built-in web/,
 * file by file: a custom directory only needs the files it changes. All templates are parsed at load so a
 * syntax error or an unknown filter stops the server at start, not at a user's login.
 */
export class Frontend {
  /** The first directory /theme is served from (the chosen theme in the custom dir, if it has one). */
  readonly themeDir: string;
  /** The first directory /static is served from. */
  readonly staticDir: string;

  private constructor(
    private readonly liquid: Liquid,
    /** The effective theme name (after falling back to the default). */
    readonly theme: string,
    /** /theme lookup order: custom theme, built-in theme of that name, built-in default theme. */
    readonly themeDirs: readonly string[],
    /** /static lookup order: custom, built-in. */
    readonly staticDirs: readonly string[],
    /** The robots.txt file to serve (custom if present). */
    readonly robotsTxt: string,
    /** Problems worth a log line that did not stop the load (an unknown theme). */
    readonly warnings: readonly string[],
    private readonly urlFor: (ref: string) => string,
  ) {
    this.themeDir = themeDirs[0]!;
    this.staticDir = staticDirs[0]!;
  }

  static async load(cfg: FrontendConfig, issuerURL: string): Promise<Frontend> {
    const warnings: string[] = [];
    const builtin = BUILTIN_WEB_DIR;
    if (!(await isDir(join(builtin, 'templates')))) {
      throw new Error(`the built-in web directory is missing: ${builtin}`);
    }
    let custom: string | undefined;
    if (cfg.dir !== undefined) {
      if (!(await isDir(cfg.dir))) throw new Error(`frontend.dir: ${cfg.dir} is not a directory`);
      custom = cfg.dir;
    }
    const layered = async (sub: string): Promise<string[]> => {
      const dirs = [custom && join(custom, sub), join(builtin, sub)].filter((d): d is string => !!d);
      const found: string[] = [];
      for (const d of dirs) if (!found.includes(d) && (await isDir(d))) found.push(d);
      return found;
    };

    let theme = cfg.theme;
    let themeDirs = THEME_NAME.test(theme) ? await layered(join('themes', theme)) : [];
    if (themeDirs.length === 0) {
      warnings.push(
        `frontend.theme: no theme ${JSON.stringify(theme)}; using ${JSON.stringify(DEFAULT_THEME)}`,
      );
      theme = DEFAULT_THEME;
      themeDirs = await layered(join('themes', theme));
    }
    const defaultThemeDir = join(builtin, 'themes', DEFAULT_THEME);
    if (!themeDirs.includes(defaultThemeDir)) themeDirs.push(defaultThemeDir);

    const templateDirs = await layered('templates');
    const staticDirs = await layered('static');
    const robotsTxt =
      custom !== undefined && (await isFile(join(custom, 'robots.txt')))
        ? join(custom, 'robots.txt')
        : join(builtin, 'robots.txt');

    const urlFor = urlResolver(issuerURL);
    const extra = new Map(Object.entries(cfg.extra));
    const liquid = new Liquid({
      root: templateDirs,
      cache: true,
      outputEscape: 'escape',
      strictFilters: true,
      ownPropertyOnly: true,
      // Go templates (which Dex themes come from) treat "" and 0 as false; so do we.
      jsTruthy: true,
      relativeReference: false,
      globals: { issuer: cfg.issuer, logo: urlFor(cfg.logoURL), theme },
    });
    liquid.registerFilter('extra', (key: unknown) => (typeof key === 'string' ? (extra.get(key) ?? '') : ''));
    liquid.registerFilter('url', (ref: unknown) => (typeof ref === 'string' ? urlFor(ref) : ''));

    // Parse (and cache) every page and every partial a custom dir might bring along.
    const names = new Set<string>(TEMPLATE_NAMES);
    for (const d of templateDirs) {
      for (const f of await readdir(d)) if (f.endsWith('.html')) names.add(f);
    }
    for (const name of names) {
      try {
        await liquid.parseFile(name);
      } catch (err) {
        throw new Error(`frontend template ${name}: ${(err as Error).message}`, { cause: err });
      }
    }
    return new Frontend(liquid, theme, themeDirs, staticDirs, robotsTxt, warnings, urlFor);
  }

  /** Renders a page; `data` fields use Dex's names. Throws on any render error. */
  async render(name: TemplateName, data: Record<string, unknown>): Promise<string> {
    if (!(TEMPLATE_NAMES as readonly string[]).includes(name)) throw new Error(`unknown template ${name}`);
    return (await this.liquid.renderFile(name, { ReqPath: '', ...data })) as string;
  }

  /** The `url` filter outside templates: a reference resolved against the issuer path. */
  url(ref: string): string {
    return this.urlFor(ref);
  }
}

/**
 * Relative references resolve against the issuer's path (`static/main.css` → `/dex/static/main.css` for
 * issuer http://h/dex), so pages work at any depth below it; root-relative paths come out normalised and
 * absolute http(s) URLs unchanged.
 */
function urlResolver(issuerURL: string): (ref: string) => string {
  const base = new URL(issuerURL);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  base.search = '';
  base.hash = '';
  return (ref) => {
    const r = ref.trim();
    if (r === '') return '';
    let u: URL;
    try {
      u = new URL(r, base);
    } catch {
      return '';
    }
    const allowed = PASS_THROUGH_SCHEMES.has(u.protocol) || /^data:image\//i.test(r);
    if (!allowed) return '';
    if (SCHEME.test(r)) return r;
    // "//cdn.example/x" (and the "/\\host" browsers read the same way) leave the issuer's origin.
    if (u.origin !== base.origin) return u.href;
    return u.pathname + u.search + u.hash;
  };
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() ?? false;
}
