import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { SignOptions } from '../keys/signer.js';
import type { Metrics } from '../observability/metrics.js';
import type { Client, Session } from '../storage/storage.js';
import { LOGOUT_TOKEN_TYPE, logoutTokenClaims } from '../tokens/logout-token.js';
import { systemClock, type Clock } from '../util/clock.js';

// OpenID Connect Back-Channel Logout 1.0, the sending side: when a browser session ends, every client that
// took part in it and registered a backchannel_logout_uri is told with a signed logout token, POSTed
// server to server (§2.5). Ending a session must never wait on a relying party, so `notify` only queues:
// deliveries run in the background, each attempt with a short deadline, retried with backoff while the
// failure may be passing (no answer, 5xx, 429), and never retried once the RP has answered that it refuses
// the token (any other 4xx, or a redirect, which is not followed: §2.8 has the RP answer 200 or 400 itself).
//
// Memory is bounded: at most `maxPending` deliveries are held (queued, in flight or waiting for a retry);
// beyond that new ones are dropped with a warning, which costs that RP one missed logout and nothing else.
// Deliveries live in this process only: a replica that stops abandons what it has not delivered after
// close()'s grace. Back-channel logout is best effort (an RP may be down for longer than any retry), so RPs
// keep their own session lifetimes; a durable queue would add storage writes to every logout for little.

/** The signer's one method used here: JwtSigner satisfies it. */
export interface LogoutTokenSigner {
  sign(payload: JWTPayload, header?: SignOptions): Promise<string>;
}

/** The slice of a pino logger used here (pino's Logger satisfies it). */
export interface BackchannelLogger {
  debug(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

/** How a delivery ended, the `result` label of latchkey_backchannel_logout_total. */
export type BackchannelLogoutResult =
  /** The RP answered 2xx. */
  | 'delivered'
  /** The RP answered a 4xx other than 429, or a redirect: it will not take this token, so no retry. */
  | 'rejected'
  /** Every attempt failed with a passing error, or the URI is not one a POST can go to. */
  | 'failed'
  /** Not accepted: the bound was reached, or the sender was closing. */
  | 'dropped'
  /** Still pending when close() gave up waiting. */
  | 'abandoned';

/** The parts of a session a logout token names. */
export type EndedSession = Pick<Session, 'id' | 'claims' | 'connectorID'>;

export interface BackchannelLogoutOptions {
  /** The issuer URL: the logout token's `iss`, the same as the ID tokens'. */
  issuer: string;
  signer: LogoutTokenSigner;
  logger?: BackchannelLogger;
  metrics?: Pick<Metrics, 'backchannelLogouts'>;
  clock?: Clock;
  /** Deadline of one attempt, connection to response headers. Default 5 s. */
  timeoutMs?: number;
  /** Waits before the second, third… attempt; attempts = length + 1. Default [1 s, 4 s]: three attempts. */
  retryDelaysMs?: readonly number[];
  /** Deliveries held at once (queued, in flight or waiting for a retry). Default 1 000. */
  maxPending?: number;
  /** Requests in flight at once, so a mass logout does not open a socket per delivery. Default 16. */
  maxConcurrent?: number;
}

export const DEFAULT_BACKCHANNEL_TIMEOUT_MS = 5_000;
export const DEFAULT_BACKCHANNEL_RETRY_DELAYS_MS: readonly number[] = [1_000, 4_000];
export const DEFAULT_BACKCHANNEL_MAX_PENDING = 1_000;
export const DEFAULT_BACKCHANNEL_MAX_CONCURRENT = 16;

/** One client to tell about one ended session. */
interface Delivery {
  clientID: string;
  uri: URL;
  sessionID: string;
  userID: string;
  connectorID: string;
  /** Attempts made so far. */
  attempts: number;
}

/** What one attempt came to. */
type AttemptOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'rejected'; status: number }
  | { kind: 'retryable'; reason: string; status?: number }
  | { kind: 'abandoned' };

const silent: BackchannelLogger = { debug() {}, warn() {} };

export class BackchannelLogout {
  private readonly issuer: string;
  private readonly signer: LogoutTokenSigner;
  private readonly logger: BackchannelLogger;
  private readonly metrics: Pick<Metrics, 'backchannelLogouts'> | undefined;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly retryDelaysMs: readonly number[];
  private readonly maxPending: number;
  private readonly maxConcurrent: number;

  /** Accepted deliveries not yet ended (queued + in flight + waiting for a retry). */
  private pendingCount = 0;
  /** Deliveries waiting for a free request slot, oldest first. */
  private readonly ready: Delivery[] = [];
  private active = 0;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Aborted by close() once its grace is over: ends the requests still in flight. */
  private readonly stopping = new AbortController();
  private closed = false;
  private readonly idleWaiters = new Set<() => void>();

  constructor(opts: BackchannelLogoutOptions) {
    this.issuer = opts.issuer;
    this.signer = opts.signer;
    this.logger = opts.logger ?? silent;
    this.metrics = opts.metrics;
    this.clock = opts.clock ?? systemClock;
    this.timeoutMs = positive('timeoutMs', opts.timeoutMs ?? DEFAULT_BACKCHANNEL_TIMEOUT_MS);
    this.retryDelaysMs = [...(opts.retryDelaysMs ?? DEFAULT_BACKCHANNEL_RETRY_DELAYS_MS)];
    for (const d of this.retryDelaysMs) {
      if (!Number.isFinite(d) || d < 0) throw new RangeError('backchannel logout: retry delays must be ≥ 0');
    }
    this.maxPending = positive('maxPending', opts.maxPending ?? DEFAULT_BACKCHANNEL_MAX_PENDING);
    this.maxConcurrent = positive('maxConcurrent', opts.maxConcurrent ?? DEFAULT_BACKCHANNEL_MAX_CONCURRENT);
  }

  /** Deliveries accepted and not yet ended. */
  get pending(): number {
    return this.pendingCount;
  }

  /**
   * Tells every client in `clients` that has a back-channel logout URI that `session` has ended. Returns at
   * once and never throws: delivery happens in the background. A client listed twice is told once.
   */
  notify(session: EndedSession, clients: readonly Client[]): void {
    const seen = new Set<string>();
    let dropped = 0;
    for (const client of clients) {
      const raw = client.backchannelLogoutURI;
      if (raw === undefined || raw === '' || seen.has(client.id)) continue;
      seen.add(client.id);
      const uri = deliverableURI(raw);
      if (uri === undefined) {
        this.logger.warn(
          { client: client.id },
          'backchannel logout: the client’s backchannelLogoutURI is not an http(s) URL; not sent',
        );
        this.count('failed');
        continue;
      }
      if (this.closed || this.pendingCount >= this.maxPending) {
        dropped++;
        continue;
      }
      this.pendingCount++;
      this.ready.push({
        clientID: client.id,
        uri,
        sessionID: session.id,
        userID: session.claims.userID,
        connectorID: session.connectorID,
        attempts: 0,
      });
    }
    if (dropped > 0) {
      this.count('dropped', dropped);
      this.logger.warn(
        { dropped, pending: this.pendingCount, closing: this.closed },
        this.closed
          ? 'backchannel logout: shutting down; logout notifications dropped'
          : 'backchannel logout: too many deliveries pending; logout notifications dropped',
      );
    }
    this.pump();
  }

  /**
   * Waits until every accepted delivery has ended (retries included) or `deadlineMs` has passed, whichever
   * comes first. True when none is left.
   */
  drain(deadlineMs: number): Promise<boolean> {
    if (this.pendingCount === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWaiters.delete(done);
        resolve(this.pendingCount === 0);
      }, deadlineMs);
      this.idleWaiters.add(done);
    });
  }

  /**
   * For graceful shutdown: refuses new deliveries, gives those under way up to `deadlineMs` (drain), then
   * abandons the rest — requests in flight are aborted, queued ones and waiting retries are cancelled.
   * Resolves with how many were abandoned.
   */
  async close(deadlineMs: number): Promise<number> {
    this.closed = true;
    if (await this.drain(deadlineMs)) return 0;
    const abandoned = this.pendingCount;
    this.stopping.abort();
    for (const timer of this.retryTimers) {
      clearTimeout(timer);
      this.end('abandoned');
    }
    this.retryTimers.clear();
    for (let n = this.ready.splice(0).length; n > 0; n--) this.end('abandoned');
    // Those in flight end as abandoned as soon as their aborted requests settle.
    this.logger.warn(
      { abandoned },
      'backchannel logout: shutting down; undelivered logout notifications abandoned',
    );
    return abandoned;
  }

  /** Starts queued deliveries while request slots are free. */
  private pump(): void {
    while (this.active < this.maxConcurrent && this.ready.length > 0) {
      const d = this.ready.shift()!;
      this.active++;
      void this.attempt(d)
        .then((outcome) => this.settle(d, outcome))
        // settle() has done its bookkeeping before it can throw (a logger's or a metric's fault): nothing is
        // lost by swallowing the error here, and a background delivery must never crash the process.
        .catch(() => undefined)
        .finally(() => {
          this.active--;
          this.pump();
        });
    }
  }

  /** One POST of a freshly minted token; never rejects. */
  private async attempt(d: Delivery): Promise<AttemptOutcome> {
    d.attempts++;
    if (this.stopping.signal.aborted) return { kind: 'abandoned' };
    let token: string;
    try {
      token = await this.mint(d);
    } catch (e) {
      // A storage blip while reading the key set passes like a network error does.
      return {
        kind: 'retryable',
        reason: `cannot sign the logout token: ${describeError(e, this.timeoutMs)}`,
      };
    }
    try {
      const res = await fetch(d.uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }).toString(),
        // A redirect is a failure (§2.8 has the RP answer itself), and following one would hand the token
        // to wherever the RP's server pointed.
        redirect: 'manual',
        signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
      // Only the status matters; the body is not read (an RP's answer could be any size).
      await res.body?.cancel().catch(() => undefined);
      return judgeStatus(res.status);
    } catch (e) {
      if (this.stopping.signal.aborted) return { kind: 'abandoned' };
      return { kind: 'retryable', reason: describeError(e, this.timeoutMs) };
    }
  }

  /**
   * Each attempt carries a token minted for it, so one that waited in the queue or behind a backoff is never
   * sent close to its `exp`.
   */
  private mint(d: Delivery): Promise<string> {
    const claims = logoutTokenClaims({
      issuer: this.issuer,
      clientID: d.clientID,
      userID: d.userID,
      connectorID: d.connectorID,
      sessionID: d.sessionID,
      issuedAt: Math.floor(this.clock.now().getTime() / 1000),
      jti: randomUUID(),
    });
    return this.signer.sign(claims, { typ: LOGOUT_TOKEN_TYPE });
  }

  /**
   * Ends the delivery, or schedules its next attempt. The bookkeeping comes before the log line, so nothing a
   * logger does can leave a delivery counted as pending for ever.
   */
  private settle(d: Delivery, outcome: AttemptOutcome): void {
    // Never the token, nor the URI's query (which may carry the RP's own secret): the client ID and host say
    // where it went.
    const where = { client: d.clientID, host: d.uri.host, attempts: d.attempts };
    switch (outcome.kind) {
      case 'delivered':
        this.end('delivered');
        this.logger.debug({ ...where, status: outcome.status }, 'backchannel logout: delivered');
        return;
      case 'rejected':
        this.end('rejected');
        this.logger.warn(
          { ...where, status: outcome.status },
          'backchannel logout: the client refused the logout token; not retried',
        );
        return;
      case 'abandoned':
        this.end('abandoned');
        return;
      case 'retryable': {
        if (this.stopping.signal.aborted) {
          this.end('abandoned');
          return;
        }
        const detail = {
          ...where,
          error: outcome.reason,
          ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        };
        const delay = this.retryDelaysMs[d.attempts - 1];
        if (delay === undefined) {
          this.end('failed');
          this.logger.warn(detail, 'backchannel logout: giving up on the client after the last attempt');
          return;
        }
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          this.ready.push(d);
          this.pump();
        }, delay);
        // A waiting retry never keeps a stopping process alive: close() decides how long to wait.
        timer.unref();
        this.retryTimers.add(timer);
        this.logger.debug({ ...detail, retryInMs: delay }, 'backchannel logout: attempt failed; retrying');
        return;
      }
    }
  }

  private end(result: Exclude<BackchannelLogoutResult, 'dropped'>): void {
    this.pendingCount--;
    if (this.pendingCount === 0) {
      for (const wake of [...this.idleWaiters]) wake();
      this.idleWaiters.clear();
    }
    this.count(result);
  }

  private count(result: BackchannelLogoutResult, n = 1): void {
    this.metrics?.backchannelLogouts.inc({ result }, n);
  }
}

/** 2xx: logged out (§2.8 names 200; 204 and the rest of 2xx mean the same). */
export function isDelivered(status: number): boolean {
  return status >= 200 && status < 300;
}

/** 5xx and 429: the RP could not take the token now, and may later. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429;
}

function judgeStatus(status: number): AttemptOutcome {
  if (isDelivered(status)) return { kind: 'delivered', status };
  if (isRetryableStatus(status)) return { kind: 'retryable', reason: `HTTP ${status}`, status };
  return { kind: 'rejected', status };
}

/** The URI as a URL a POST can go to, or undefined (not a URL, or not http/https). */
export function deliverableURI(raw: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
}

/**
 * undici's fetch says only "fetch failed"; the reason (ECONNREFUSED, a certificate error) is its cause.
 * Duck-typed, not `instanceof Error`: fetch's errors may come from another realm (a vm context, a test runner).
 */
function describeError(e: unknown, timeoutMs: number): string {
  const cause = errorLike(e)?.cause;
  const inner = errorLike(cause) ?? errorLike(e);
  if (inner === undefined) return String(e);
  if (inner.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  return inner.message;
}

function errorLike(e: unknown): { name: string; message: string; cause?: unknown } | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { name, message } = e as { name?: unknown; message?: unknown };
  return typeof name === 'string' && typeof message === 'string'
    ? (e as { name: string; message: string; cause?: unknown })
    : undefined;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`backchannel logout: ${name} must be > 0`);
  return value;
}
