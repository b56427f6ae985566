import { access, mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from './cli.js';

/** Debian's Chromium (scripts/provision-test-deps.sh installs it); no test tool ever downloads a browser. */
export const CHROMIUM = '/usr/bin/chromium';

// What lets Chromium start cleanly here: no sandbox (tests may run as root), no GPU, and none of the
// background connections a closed network refuses.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Chromium {
  browser: Browser;
  /** The browser process, stopped by this PID in stop(). */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts one headless Chromium for a suite (Playwright gives it a fresh, temporary --user-data-dir). Call
 * stop() in afterAll: it closes the browser and makes sure its process is gone.
 */
export async function launchChromium(): Promise<Chromium> {
  await access(CHROMIUM).catch(() => {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (as root: apt-get install chromium, or run scripts/provision-test-deps.sh)`,
    );
  });
  const server = await chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  const pid = server.process().pid;
  if (pid === undefined) {
    await server.kill();
    throw new Error('Chromium started without a process id');
  }
  const browser = await chromium.connect(server.wsEndpoint());
  return {
    browser,
    pid,
    stop: async () => {
      await browser.close().catch(() => {});
      await server.close();
      if (isAlive(pid)) {
        process.kill(pid, 'SIGKILL');
      }
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What went wrong in a browser context. */
export interface PageProblems {
  cspViolations: string[];
  /** Console errors, except Chromium's note on a page that came with an error status (error pages do). */
  consoleErrors: string[];
  /** Stylesheets, images, scripts… (not pages) that failed or answered an error status. */
  failedResources: string[];
  dialogs: string[];
}

/**
 * Records, for every page of `context`, each Content-Security-Policy violation (the page's own
 * `securitypolicyviolation` events, reported through a binding, and Chromium's console report), every
 * console error, every sub-resource that did not load, and every dialog (dismissed at once: an `alert(1)`
 * that ran would show up here).
 */
export async function watchProblems(context: BrowserContext): Promise<PageProblems> {
  const problems: PageProblems = { cspViolations: [], consoleErrors: [], failedResources: [], dialogs: [] };
  await context.exposeBinding('__reportCspViolation', (_source, text: string) => {
    problems.cspViolations.push(text);
  });
  // Init scripts and bindings are installed by the DevTools protocol: the pages' CSP does not apply.
  // (Scripts that run in the page are strings here: this project's TypeScript has no DOM types.)
  await context.addInitScript(`
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__reportCspViolation(
        e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' on ' + e.documentURI,
      );
    });
  `);
  context.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = `${msg.text()} (${msg.location().url})`;
    if (/Content Security Policy/i.test(text)) problems.cspViolations.push(text);
    // Reported for every response with an error status; sub-resources are checked below, and a page
    // with an error status (the error page) is what the test asked for.
    else if (!/^Failed to load resource: the server responded with a status of \d+/.test(msg.text())) {
      problems.consoleErrors.push(text);
    }
  });
  context.on('requestfailed', (request) => {
    const error = request.failure()?.errorText;
    // Chromium fetches the favicon once the page has loaded: a test that moves on at once aborts it (a
    // missing favicon still shows, as its HTTP status below).
    const movedOn = error === 'net::ERR_ABORTED' && /\/favicon\.\w+$/.test(new URL(request.url()).pathname);
    if (request.resourceType() !== 'document' && !movedOn) {
      problems.failedResources.push(`${request.url()}: ${error}`);
    }
  });
  context.on('response', (response) => {
    if (response.request().resourceType() !== 'document' && response.status() >= 400) {
      problems.failedResources.push(`${response.url()}: HTTP ${response.status()}`);
    }
  });
  context.on('dialog', (dialog) => {
    problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => {});
  });
  return problems;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

let axeSource: Promise<string> | undefined;

/**
 * Runs axe-core (WCAG 2.x A/AA rules and best practices) on the page and returns its serious and critical
 * violations. The script is evaluated through the DevTools protocol, so the page's CSP stays untouched.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const source = await axeSource;
  await page.evaluate(source);
  const violations = await page.evaluate<AxeViolation[]>(`
    axe.run(document, { resultTypes: ['violations'] }).then((results) =>
      results.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => JSON.stringify(n.target)),
      })),
    )
  `);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Where screenshots go: test-results/ (git-ignored), one folder per suite. */
export async function screenshotDir(suite: string): Promise<string> {
  const dir = join(REPO_ROOT, 'test-results', suite);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** A phone's viewport (iPhone SE-sized), and the desktop one the pages are first shown at. */
export const PHONE = { width: 375, height: 667 };
export const DESKTOP = { width: 1280, height: 800 };

/** True when the page fits its viewport's width (no horizontal scrolling). */
export function fitsWidth(page: Page): Promise<boolean> {
  return page.evaluate<boolean>(
    'document.documentElement.scrollWidth <= document.documentElement.clientWidth',
  );
}

/** The page's computed background colour, e.g. "rgb(244, 246, 248)". */
export function bodyBackground(page: Page): Promise<string> {
  return page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
}

/** Whether the first image matching `selector` has loaded (a broken image has no natural width). */
export function imageLoaded(page: Page, selector: string): Promise<boolean> {
  return page.evaluate<boolean>(
    `(() => { const img = document.querySelector(${JSON.stringify(selector)}); return !!img && img.complete && img.naturalWidth > 0; })()`,
  );
}

/** The focused element: its text, id, and outline style (how focus is shown). */
export function focused(page: Page): Promise<{ text: string; id: string; outline: string }> {
  return page.evaluate(`(() => {
    const el = document.activeElement;
    return {
      text: (el && el.innerText ? el.innerText : '').trim(),
      id: el ? el.id : '',
      outline: el ? getComputedStyle(el).outlineStyle : 'none',
    };
  })()`);
}

/** Computed colours of elements: {name: [selector, CSS property]} → {name: colour}. */
export function colours(page: Page, of: Record<string, [string, string]>): Promise<Record<string, string>> {
  return page.evaluate(`(() => {
    const out = {};
    for (const [name, [selector, property]] of Object.entries(${JSON.stringify(of)})) {
      out[name] = getComputedStyle(document.querySelector(selector))[property];
    }
    return out;
  })()`);
}
