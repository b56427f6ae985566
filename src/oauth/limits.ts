import type { ThrottlingConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';
import { TokenBuckets } from '../util/token-buckets.js';
import { DevicePollPace } from './device.js';
import { PasswordThrottle, RequestLimiter } from './throttle.js';

// Every in-memory limit of a replica in one place. A limit is only as strong as the one table it counts in:
// a replica running several worker processes keeps a single ReplicaLimits in its primary and lets the
// workers ask it (cluster/limits-rpc.ts), so N workers do not mean N times the password guesses, the
// request burst or the device codes. The endpoints see every limit through `Limits`, the same
// asynchronous view whether the table is in this process or the primary's.

/** Device authorization requests one client may make from one IP per window (RFC 8628 §5.1 asks for a limit). */
export const DEVICE_REQUESTS_PER_CLIENT_IP = 20;
/** The same, per client alone, when the address is shared by many clients (a NAT, an ingress). */
export const DEVICE_REQUESTS_PER_CLIENT = 1_000;

export class ReplicaLimits {
  /** Password guesses per account and per address (server/password-check.ts). */
  readonly passwords: PasswordThrottle;
  /** The token bucket per client address in front of /token and /device (server/rate-limit.ts). */
  readonly requests: TokenBuckets;
  readonly deviceRequests: RequestLimiter;
  readonly deviceRequestsPerClient: RequestLimiter;
  /** Wrong user codes per address at /device. */
  readonly userCodeFailures: RequestLimiter;
  readonly devicePolls: DevicePollPace;

  constructor(throttling: ThrottlingConfig, clock: Clock) {
    this.passwords = new PasswordThrottle(throttling, clock);
    this.requests = new TokenBuckets(
      { burst: throttling.requestBurstPerIP, perSecond: throttling.requestsPerSecondPerIP },
      clock,
    );
    this.deviceRequests = new RequestLimiter(DEVICE_REQUESTS_PER_CLIENT_IP, throttling.window, clock);
    this.deviceRequestsPerClient = new RequestLimiter(DEVICE_REQUESTS_PER_CLIENT, throttling.window, clock);
    this.userCodeFailures = new RequestLimiter(throttling.passwordFailuresPerIP, throttling.window, clock);
    this.devicePolls = new DevicePollPace();
  }
}

/** The limits and, of each, the methods the endpoints call: all a remote caller may reach. */
export const LIMIT_METHODS = {
  passwords: ['begin', 'finish'],
  requests: ['take'],
  deviceRequests: ['take'],
  deviceRequestsPerClient: ['take'],
  userCodeFailures: ['take', 'exhausted', 'add'],
  devicePolls: ['poll', 'forget'],
} as const satisfies { [K in keyof ReplicaLimits]: readonly (keyof ReplicaLimits[K])[] };

export type LimitName = keyof typeof LIMIT_METHODS;

type Asynchronous<T, M> = {
  [K in keyof T as K extends M ? K : never]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** The endpoints' view of the limits: every call asynchronous, wherever the tables are. */
export type Limits = {
  [N in LimitName]: Asynchronous<ReplicaLimits[N], (typeof LIMIT_METHODS)[N][number]>;
};

/** Limits kept in this process. */
export function localLimits(limits: ReplicaLimits): Limits {
  return viewOf(async (name, method, args) => callLimit(limits, name, method, args));
}

/** Limits behind any asynchronous call (the primary's, over IPC): `call(limit, method, args)`. */
export function viewOf(call: (name: LimitName, method: string, args: unknown[]) => Promise<unknown>): Limits {
  const view = {} as Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>>;
  for (const [name, methods] of Object.entries(LIMIT_METHODS)) {
    const one: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
    for (const method of methods) one[method] = (...args) => call(name as LimitName, method, args);
    view[name] = one;
  }
  return view as unknown as Limits;
}

/**
 * Runs a call on this process's limits — its own, or one a worker asked for — after checking it names one of
 * LIMIT_METHODS (a worker's channel is our own, but nothing else is reachable through it either way).
 */
export function callLimit(limits: ReplicaLimits, name: unknown, method: unknown, args: unknown): unknown {
  const allowed = LIMIT_METHODS[name as LimitName] as readonly string[] | undefined;
  if (!allowed || typeof method !== 'string' || !allowed.includes(method) || !Array.isArray(args)) {
    throw new TypeError(`no such limit call: ${String(name)}.${String(method)}`);
  }
  const target = limits[name as LimitName] as unknown as Record<string, (...a: unknown[]) => unknown>;
  return target[method]!.apply(target, args);
}
