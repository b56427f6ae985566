import * as oidc from 'openid-client';
import { ConnectorError } from '../connector.js';
import type { ConnectorLogger } from '../deps.js';
import type { HttpFetch } from '../http.js';
import { classifyUpstreamError, failureMessage, plainMetadata } from '../upstream/client.js';
import type { DiscoveryOverrides } from './config.js';

// The upstream's discovery document, fetched lazily and kept. Opening a connector never waits for it (Dex
// refuses to start when one issuer is down; Latchkey starts, and that connector's logins fail with a page
// naming it until the issuer answers). A background loop fetches it ahead of the first login and retries
// with backoff, logging each failure, until it succeeds or the server stops.

export interface DiscoveryOptions {
  connectorID: string;
  issuer: string;
  issuerAlias?: string | undefined;
  overrides: DiscoveryOverrides;
  fetch: HttpFetch;
  logger: ConnectorLogger;
  /** Aborted at shutdown: ends the retry loop. */
  signal: AbortSignal;
  /** First retry delay, doubled after each failure up to `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
}

/** Placeholder client id for the discovery request, which sends none (openid-client's API wants one). */
const DISCOVERY_ONLY_CLIENT = 'latchkey-discovery';

export class ProviderDiscovery {
  private metadata: oidc.ServerMetadata | undefined;
  private attempt: Promise<oidc.ServerMetadata> | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private background = false;
  private readonly onAbort = () => this.stopBackground();

  constructor(private readonly opts: DiscoveryOptions) {}

  /**
   * Starts discovering in the background. The first attempt waits for a later turn of the event loop, so a
   * caller that opens connectors and at once aborts the signal (`serve --check`) dials nothing.
   */
  startInBackground(): void {
    if (this.opts.signal.aborted || this.background) return;
    this.background = true;
    this.opts.signal.addEventListener('abort', this.onAbort, { once: true });
    this.schedule(0);
  }

  /** The discovery document (with overrides applied); throws ConnectorError while the issuer cannot be read. */
  async get(): Promise<oidc.ServerMetadata> {
    if (this.metadata !== undefined) return this.metadata;
    try {
      return await this.discover();
    } catch (e) {
      const failure = classifyUpstreamError(e);
      throw new ConnectorError(
        `discovery of ${this.opts.issuer} failed: ${failure.detail}`,
        failure.kind === 'unexpected'
          ? 'The identity provider is not answering as expected at the moment; please try again later.'
          : failureMessage({ kind: 'unreachable', detail: failure.detail }),
        { cause: e },
      );
    }
  }

  /** One attempt at a time; concurrent callers share it. */
  private discover(): Promise<oidc.ServerMetadata> {
    this.attempt ??= this.fetchDocument().then(
      (metadata) => {
        this.attempt = undefined;
        this.metadata = metadata;
        if (this.failures > 0) {
          this.opts.logger.info(
            { connector: this.opts.connectorID, issuer: this.opts.issuer },
            'upstream discovery succeeded after failures',
          );
        }
        this.stopBackground();
        return metadata;
      },
      (e: unknown) => {
        this.attempt = undefined;
        this.failures++;
        const retryInMs = this.background ? this.backoff() : undefined;
        this.opts.logger.warn(
          {
            connector: this.opts.connectorID,
            issuer: this.opts.issuer,
            err: classifyUpstreamError(e).detail,
            failures: this.failures,
            ...(retryInMs !== undefined ? { retryInMs } : {}),
          },
          `connector ${this.opts.connectorID}: discovery of ${this.opts.issuer} failed`,
        );
        if (retryInMs !== undefined && this.timer === undefined) this.schedule(retryInMs);
        throw e;
      },
    );
    return this.attempt;
  }

  private async fetchDocument(): Promise<oidc.ServerMetadata> {
    const { issuer, issuerAlias } = this.opts;
    // With an alias, the document's `issuer` may differ from the URL it is served under (Dex: go-oidc's
    // InsecureIssuerURLContext), so it is fetched by its well-known URL, which skips openid-client's check;
    // tokens must then carry the alias, or the issuer when the document names it.
    const url =
      issuerAlias === undefined
        ? new URL(issuer)
        : new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    const found = await oidc.discovery(url, DISCOVERY_ONLY_CLIENT, undefined, undefined, {
      [oidc.customFetch]: (u, options) => this.opts.fetch(u, options as RequestInit),
      execute: [oidc.allowInsecureRequests],
    });
    const discovered = plainMetadata(found);
    const aliased =
      issuerAlias !== undefined && discovered.issuer !== issuer && discovered.issuer !== issuerAlias;
    const o = this.opts.overrides;
    const metadata: oidc.ServerMetadata = {
      ...discovered,
      ...(aliased ? { issuer: issuerAlias } : {}),
      ...(o.authURL !== undefined ? { authorization_endpoint: o.authURL } : {}),
      ...(o.tokenURL !== undefined ? { token_endpoint: o.tokenURL } : {}),
      ...(o.jwksURL !== undefined ? { jwks_uri: o.jwksURL } : {}),
      ...(o.userInfoURL !== undefined ? { userinfo_endpoint: o.userInfoURL } : {}),
    };
    return metadata;
  }

  private backoff(): number {
    return Math.min(this.opts.retryMaxMs, this.opts.retryInitialMs * 2 ** (this.failures - 1));
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.metadata !== undefined || this.opts.signal.aborted) return;
      // A failure is logged and rescheduled by discover() itself.
      this.discover().catch(() => {});
    }, ms);
    // Background work never keeps the process alive.
    this.timer.unref();
  }

  stopBackground(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.background) this.opts.signal.removeEventListener('abort', this.onAbort);
    this.background = false;
  }
}
