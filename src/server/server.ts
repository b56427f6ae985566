import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Storage, KeySetName } from '../storage/storage.js';
import { KeyManager } from '../keys/manager.js';
import { JwtSigner } from '../keys/signer.js';
import { Metrics } from '../observability/metrics.js';
import { Audit } from '../observability/audit.js';
import { systemClock, type Clock } from '../util/clock.js';
import { Sealer } from '../keys/sealer.js';
import { ConnectorRegistry } from '../connectors/registry.js';
import type { HttpClientFactory } from '../connectors/http.js';
import { Frontend } from '../frontend/frontend.js';
import { TokenMinter } from '../tokens/mint.js';
import { OwnTokenVerifier } from '../tokens/verify.js';
import { AuthCodes } from '../oauth/codes.js';
import { LoginCompletion } from '../oauth/login.js';
import { RefreshTokens } from '../oauth/refresh.js';
import { GrantRevocations } from '../oauth/revocations.js';
import { DeviceFlow } from '../oauth/device.js';
import { TokenIssuer } from '../oauth/issuance.js';
import { connectorAllowsGrant } from '../oauth/connector-policy.js';
import { canRefresh } from '../connectors/connector.js';
import { randomIds } from '../util/ids.js';
import { BrowserSessions } from '../oauth/sessions.js';
import { BackchannelLogout } from '../oauth/backchannel-logout.js';
import { findClient, type ServerContext } from './context.js';
import { SessionCookies } from './session-cookie.js';
import { clientIPResolver } from './client-ip.js';
import { createWebApp } from './app.js';
import { Readiness } from './health-routes.js';
import { telemetryApp } from './telemetry.js';
import { listen, type RunningListener } from './listen.js';
import { openReplica, type ReplicaCore } from './replica.js';
import { staticEntities } from './static-entities.js';
import { withStaticOverlay } from '../storage/static.js';
import type { StorageHealth } from './health-routes.js';
import { localLimits, type Limits } from '../oauth/limits.js';

export interface ListenOverrides {
  webHttp?: string;
  webHttps?: string;
  telemetry?: string;
}

export interface RunningLatchkey {
  /** Bound URLs of the web listeners (real ports when 0 was asked for). */
  webUrls: string[];
  telemetryUrl?: string;
  storage: Storage;
  metrics: Metrics;
  /**
   * A graceful stop, as a pod's should go: readiness false at once while still serving (`web.drainDelay`),
   * then no new connections, in-flight requests get `graceMs`, then timers and storage stop.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * What a web process needs of its replica: storage, limits, storage health and metrics, either its own
 * (openReplica) or its primary's, over IPC.
 */
export interface WorkerReplica {
  storage: Storage;
  limits: Limits;
  health: StorageHealth;
  metrics: Metrics;
  close(): Promise<void>;
}

/** A replica opened in this process, seen as a web process sees one. */
function asWorkerReplica(core: ReplicaCore, metrics: Metrics): WorkerReplica {
  return { ...core, limits: localLimits(core.limits), metrics };
}
/** How long shutdown waits for back-channel logout notices still on their way. */
const BACKCHANNEL_DRAIN_MS = 5_000;

/** Everything `latchkey serve` runs, wired explicitly: storage, keys, the web and telemetry listeners. */
export async function startLatchkey(
  config: Config,
  opts: {
    logger: Logger;
    overrides?: ListenOverrides;
    clock?: Clock;
    /** How connectors reach their upstreams; default: undici with a deadline per request. */
    connectorHttp?: HttpClientFactory;
    /**
     * The replica's storage, limits and storage health when this process is one of its workers (the
     * primary holds them: src/cluster/); absent, this process opens them and serves telemetry itself.
     */
    replica?: WorkerReplica;
  },
): Promise<RunningLatchkey> {
  const { logger } = opts;
  const clock = opts.clock ?? systemClock;
  const webHttp = opts.overrides?.webHttp ?? config.web.http;
  const webHttps = opts.overrides?.webHttps ?? config.web.https;
  const telemetryAddr = opts.overrides?.telemetry ?? config.telemetry.http;
  if (!webHttp && !webHttps)
    throw new Error('no web listener: set web.http or web.https (or --web-http-addr)');
  if (webHttps && (!config.web.tlsCert || !config.web.tlsKey)) {
    throw new Error('web.tlsCert and web.tlsKey are required to serve HTTPS');
  }

  const metrics = opts.replica?.metrics ?? new Metrics();
  const core: WorkerReplica =
    opts.replica ?? asWorkerReplica(await openReplica(config, { logger, metrics, clock }), metrics);
  const { limits } = core;
  // The config's static clients, passwords and connectors, answered in this process (a worker's primary
  // never sees those reads): read-only over the replica's storage.
  const storage = withStaticOverlay(core.storage, staticEntities(config));
  const timers: NodeJS.Timeout[] = [];
  const aborts: AbortController[] = [];
  const listeners: RunningListener[] = [];
  /** Closed after the web listeners, so that probes and metrics answer to the end. */
  const telemetryListeners: RunningListener[] = [];
  const keyManagers: KeyManager[] = [];
  try {
    // Both key sets rotate with the signer's period; a retired key stays usable as long as what it
    // protected may live: ID/access tokens for signing keys, pending login requests for sealing keys.
    const keyManager = (name: KeySetName, retentionMs: number) =>
      new KeyManager(storage, {
        name,
        kind: name,
        ...(name === 'signing' ? { algorithm: config.signer.algorithm } : {}),
        rotationPeriodMs: config.signer.keysRotationPeriod,
        retentionMs,
        clock,
        logger: logger.child({ component: 'keys' }),
        onRotate: () => metrics.keyRotations.inc({ keyset: name }),
      });
    const signingKeys = keyManager('signing', config.expiry.idTokens);
    // A session cookie is sealed too, and must unseal for as long as its session may live.
    const sealingKeys = keyManager(
      'sealing',
      Math.max(config.expiry.authRequests, config.sessions?.absoluteLifetime ?? 0),
    );
    keyManagers.push(signingKeys, sealingKeys);
    await signingKeys.start();
    await sealingKeys.start();
    const signer = new JwtSigner(signingKeys, clock);

    const frontend = await Frontend.load(config.frontend, config.issuer);
    for (const w of frontend.warnings) logger.warn({ component: 'frontend' }, w);
    const ids = randomIds;
    const codes = new AuthCodes(storage, config.expiry.authCodes, clock, ids);
    const rt = config.expiry.refreshTokens;
    const revocations = new GrantRevocations(
      storage,
      { accessTokenLifetimeMs: config.expiry.idTokens },
      clock,
    );
    const refreshTokens = new RefreshTokens(
      storage,
      {
        disableRotation: rt.disableRotation,
        reuseIntervalMs: rt.reuseInterval,
        ...(rt.validIfNotUsedFor ? { validIfNotUsedForMs: rt.validIfNotUsedFor } : {}),
        ...(rt.absoluteLifetime ? { absoluteLifetimeMs: rt.absoluteLifetime } : {}),
      },
      clock,
      ids,
      revocations,
    );
    const minter = new TokenMinter(
      signer,
      { issuer: config.issuer, idTokenLifetimeMs: config.expiry.idTokens },
      clock,
    );
    const stopping = new AbortController();
    aborts.push(stopping);
    const connectors = new ConnectorRegistry(storage, {
      storage,
      logger: logger.child({ component: 'connectors' }),
      clock,
      signal: stopping.signal,
      ...(opts.connectorHttp ? { http: opts.connectorHttp } : {}),
    });
    const refreshServed = config.oauth2.grantTypes.includes('refresh_token');
    const sessions = config.sessions
      ? new BrowserSessions(
          storage,
          {
            absoluteLifetimeMs: config.sessions.absoluteLifetime,
            idleLifetimeMs: config.sessions.validIfNotUsedFor,
            ssoSharedWithDefault: config.sessions.ssoSharedWithDefault,
          },
          clock,
          ids,
        )
      : undefined;
    const backchannel = config.sessions
      ? new BackchannelLogout({
          signer,
          issuer: config.issuer,
          clock,
          logger: logger.child({ component: 'backchannel-logout' }),
          metrics,
        })
      : undefined;
    const ctx: ServerContext = {
      config,
      storage,
      logger,
      metrics,
      audit: new Audit(metrics),
      clock,
      ids,
      sealer: new Sealer(sealingKeys, { clock, maxAgeMs: config.expiry.authRequests }),
      connectors,
      frontend,
      minter,
      issuance: new TokenIssuer({
        minter,
        refreshTokens,
        ids,
        sessionBound: async (clientID) =>
          (await findClient(storage, clientID))?.refreshTokenLifetime === 'session',
        refreshable: async (connectorID) => {
          if (!refreshServed) return false;
          const opened = await connectors.get(connectorID);
          return (
            opened !== undefined &&
            canRefresh(opened.connector) &&
            connectorAllowsGrant(opened.entity, 'refresh_token')
          );
        },
      }),
      verifier: new OwnTokenVerifier(signer, config.issuer, clock, (grantID) =>
        revocations.isRevoked(grantID),
      ),
      codes,
      logins: new LoginCompletion(
        storage,
        codes,
        {
          issuer: config.issuer,
          skipApprovalScreen: config.oauth2.skipApprovalScreen,
          authRequestLifetimeMs: config.expiry.authRequests,
        },
        clock,
        ids,
        sessions,
      ),
      refreshTokens,
      revocations,
      limits,
      device: new DeviceFlow(storage, config.expiry.deviceRequests, clock, ids, limits.devicePolls),
      clientAddress: clientIPResolver(config.web.clientRemoteIP, (ip) =>
        logger.warn(
          { component: 'throttling', peer: ip },
          'requests arrive from a private address and web.clientRemoteIP.trustedProxies is empty: ' +
            'per-address limits (password guesses, device codes, the request rate of /token and /device) ' +
            'are off (the address may be shared ' +
            'by every client behind a NAT, a NodePort or an ingress); set web.clientRemoteIP.header and ' +
            'trustedProxies to the proxy in front of Latchkey',
        ),
      ),
      ...(sessions && backchannel && config.sessions
        ? {
            sessions,
            backchannel,
            sessionCookies: new SessionCookies(
              new Sealer(sealingKeys, { clock, maxAgeMs: config.sessions.absoluteLifetime }),
              {
                name: config.sessions.cookieName,
                issuer: config.issuer,
                path: config.issuerPath || '/',
                secure: config.issuer.startsWith('https:'),
                maxAgeMs: config.sessions.absoluteLifetime,
              },
            ),
          }
        : {}),
    };
    // A connector of the config file that cannot be opened is a mistake in the file: refuse to start, naming
    // its key path. One stored as a resource (written by someone else, maybe later fixed) is logged and left
    // out, as Dex does; the others keep working. Opening contacts no upstream, so an unreachable one does
    // not count here: it fails its own logins until it answers.
    for (const c of await ctx.connectors.list()) {
      try {
        await ctx.connectors.get(c.id);
      } catch (err) {
        if (c.resourceVersion === undefined) throw err;
        logger.error(
          { component: 'connectors', connector: c.id, err },
          'connector cannot be opened; skipped',
        );
      }
    }

    const readiness = new Readiness(core.health);
    const app = createWebApp({ ctx, signer, health: readiness });
    if (webHttp) listeners.push(await listen(webHttp, app));
    if (webHttps) {
      listeners.push(
        await listen(
          webHttps,
          app,
          {
            certFile: config.web.tlsCert!,
            keyFile: config.web.tlsKey!,
            minVersion: config.web.tlsMinVersion,
            ...(config.web.tlsMaxVersion ? { maxVersion: config.web.tlsMaxVersion } : {}),
          },
          (err) =>
            logger.error({ err }, 'could not reload the TLS certificate; still serving the previous one'),
        ),
      );
    }
    const webUrls = listeners.map((l) => l.url);
    let telemetryUrl: string | undefined;
    // A worker has none: the primary serves telemetry for the replica (its metrics aggregate the workers').
    if (telemetryAddr && !opts.replica) {
      const t = await listen(telemetryAddr, telemetryApp(metrics, readiness));
      telemetryListeners.push(t);
      telemetryUrl = t.url;
    }

    return {
      webUrls,
      ...(telemetryUrl ? { telemetryUrl } : {}),
      storage,
      metrics,
      close: async (graceMs = 60_000) => {
        await drain(readiness, listeners, config.web.drainDelay ?? 0, logger);
        // Logout notices already accepted get a short while to reach their relying parties.
        const abandoned = await backchannel?.close(Math.min(graceMs, BACKCHANNEL_DRAIN_MS));
        if (abandoned) logger.warn({ abandoned }, 'back-channel logout notices abandoned at shutdown');
        await shutdown([listeners, telemetryListeners], keyManagers, timers, aborts, core, graceMs);
      },
    };
  } catch (err) {
    await shutdown([listeners, telemetryListeners], keyManagers, timers, aborts, core, 0);
    throw err;
  }
}

/**
 * Readiness turns false and every web response closes its connection, while the listeners still accept:
 * a Service or ingress keeps sending new connections until its endpoints catch up with the readiness
 * change (or the pod's deletion), and a connection refused meanwhile would be a failed login. After
 * `delayMs` nothing should arrive any more, and connections idle since before the drain have reached the
 * 5 s keep-alive timeout.
 */
async function drain(
  readiness: Readiness,
  web: RunningListener[],
  delayMs: number,
  logger: Logger,
): Promise<void> {
  readiness.drain();
  for (const l of web) l.drain();
  if (delayMs <= 0) return;
  logger.info({ drainDelayMs: delayMs }, 'draining: not ready; refusing new connections after the delay');
  await new Promise((resolve) => setTimeout(resolve, delayMs));
}

/**
 * Listeners first, group after group (web, then telemetry), so that requests in flight finish with their
 * connectors, keys and storage still running; then everything else.
 */
async function shutdown(
  listenerGroups: RunningListener[][],
  keyManagers: KeyManager[],
  timers: NodeJS.Timeout[],
  aborts: AbortController[],
  core: Pick<WorkerReplica, 'close'>,
  graceMs: number,
): Promise<void> {
  for (const group of listenerGroups) await Promise.all(group.map((l) => l.close(graceMs)));
  for (const t of timers) clearInterval(t);
  for (const a of aborts) a.abort();
  for (const k of keyManagers) k.stop();
  await core.close();
}
