import { ConfigSection, connectorPath } from '../../../src/connectors/config-keys.js';
import type { ResolvedConnectorDeps } from '../../../src/connectors/deps.js';
import { httpClientFactory, type HttpClientFactory } from '../../../src/connectors/http.js';
import { openOidcConnector, type OidcConnector, type OidcTuning } from '../../../src/connectors/oidc/oidc.js';
import { MemoryStorage } from '../../../src/storage/memory/memory.js';
import { ManualClock } from '../../../src/util/clock.js';
import { TestBrowser } from '../../helpers/browser.js';
import { upstreamLogin, type UpstreamOidc, LATCHKEY_AT_UPSTREAM } from '../../helpers/upstream-oidc.js';
import { RecordingLogger } from '../helpers.js';

// What the oidc connector tests share: the connector opened as the registry opens it, on a real HTTP client,
// a manual clock and a recording logger; and a browser that logs in at the real upstream.

/** Where the upstream sends the browser back; registered port-less (a native client: any loopback port). */
export const CALLBACK = 'http://127.0.0.1:5556/dex/callback';

export const JANE = {
  sub: 'jane-sub',
  name: 'Jane Doe',
  preferred_username: 'janed',
  email: 'jane@example.com',
  email_verified: true,
  groups: ['admins', 'dev', 'ops'],
};

export interface Opened {
  connector: OidcConnector;
  logger: RecordingLogger;
  clock: ManualClock;
  stop: AbortController;
}

export function openOidc(
  config: Record<string, unknown>,
  opts: { id?: string; http?: HttpClientFactory; tuning?: Partial<OidcTuning>; clock?: ManualClock } = {},
): Opened {
  const id = opts.id ?? 'upstream';
  const logger = new RecordingLogger();
  const clock = opts.clock ?? new ManualClock(new Date());
  const stop = new AbortController();
  const deps: ResolvedConnectorDeps = {
    storage: new MemoryStorage(),
    logger,
    clock,
    signal: stop.signal,
    http: opts.http ?? httpClientFactory({ signal: stop.signal }),
  };
  const connector = openOidcConnector(
    { id, type: 'oidc', name: 'Upstream IdP', config },
    ConfigSection.of(`${connectorPath(id)}.config`, config),
    deps,
    { discoveryRetryInitialMs: 50, discoveryRetryMaxMs: 200, ...opts.tuning },
  );
  return { connector, logger, clock, stop };
}

/** Follows `url` through the upstream's login and consent as `login`; the callback's query parameters. */
export async function loginAtUpstream(url: string, login = JANE.sub): Promise<URLSearchParams> {
  const browser = new TestBrowser();
  let page = await browser.open(url, { stopAt: CALLBACK });
  page = await upstreamLogin(browser, page, login, CALLBACK);
  if (!page.url.startsWith(CALLBACK)) {
    throw new Error(
      `upstream login did not come back: ${page.url} (${page.status})\n${page.html.slice(0, 500)}`,
    );
  }
  return new URL(page.url).searchParams;
}

/** Counts the upstream's requests by method and path (and lets them through). */
export function countRequests(upstream: UpstreamOidc): Map<string, number> {
  const counts = new Map<string, number>();
  upstream.intercept = (req) => {
    const key = `${req.method} ${new URL(req.url ?? '/', upstream.issuer).pathname}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return false;
  };
  return counts;
}

export { LATCHKEY_AT_UPSTREAM };
