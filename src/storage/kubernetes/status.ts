import { redirectURIProblem } from '../../config/build.js';
import { KubeApiError, type KubeApi, type KubeObject, type ResourceRef } from './api.js';
import { secretRefOf } from './codec.js';
import type { Lease } from './lease.js';
import type { StorageLogger } from './logger.js';

// The status of the objects people write with kubectl (OAuth2Client, Password, Connector): a Ready condition
// saying whether Latchkey can use the object, and if not why, judged by the same functions the server applies
// when it uses it. `kubectl get` shows it in the Ready and Reason columns. The rules of the layers above
// storage (the local connector's hashes, the connector types) come in as StatusJudges
// (src/connectors/status-judges.ts); the configuration's redirect-URI rule and Secrets are storage's own.
//
// Only the replica holding the garbage-collection Lease writes, and only when the condition differs from
// the one the object carries: a status write is itself a watch event, which finds the condition equal and
// writes nothing, so there is no write per event and no storm between replicas. Every write is a
// compare-and-swap on the resourceVersion judged; a 409 means a newer version is on its way through the
// watch, which will be judged in turn. Nothing here is on a request's path: judging starts from watch
// events, from the start-up pass and from garbage collection (which also catches a Secret created after
// the client that names it).

export const READY = 'Ready';

/** The reasons a Ready condition gives (CamelCase, as Kubernetes conditions do). */
export const Reason = {
  Accepted: 'Accepted',
  InvalidRedirectURI: 'InvalidRedirectURI',
  MissingSecret: 'MissingSecret',
  UnknownConnectorType: 'UnknownConnectorType',
  InvalidHash: 'InvalidHash',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** What judging an object found: usable, or not and why. */
export type Verdict = { ready: true } | { ready: false; reason: Reason; message: string };

const ACCEPTED: Verdict = { ready: true };

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

/** The rules of the layers above storage, which the server hands in (storage may not import them). */
export interface StatusJudges {
  /** Why the local connector would refuse this stored hash at login, or undefined if it takes it. */
  passwordHash(hash: string): string | undefined;
  /** Why Latchkey cannot open a connector of this type, or undefined if it can. */
  connectorType(type: string): string | undefined;
}

/** Reads a Secret of the namespace by name (undefined = there is none). */
export type SecretReader = (name: string) => Promise<KubeObject | undefined>;

/** An OAuth2Client: its redirect URIs as the configuration file's are checked, and its Secret if it names one. */
export async function judgeClient(o: KubeObject, readSecret: SecretReader): Promise<Verdict> {
  const uris = o.spec?.redirectURIs;
  for (const [i, uri] of (Array.isArray(uris) ? uris : []).entries()) {
    // No issuer path here: a device callback under any path is let through rather than refused wrongly.
    const problem = typeof uri === 'string' ? redirectURIProblem(uri, undefined) : 'expected a string';
    if (problem !== undefined) {
      return {
        ready: false,
        reason: Reason.InvalidRedirectURI,
        message: `spec.redirectURIs[${i}]: ${problem}`,
      };
    }
  }
  const ref = secretRefOf(o);
  if (ref) {
    const secret = await readSecret(ref.name);
    if (secret?.data?.[ref.key] === undefined) {
      return {
        ready: false,
        reason: Reason.MissingSecret,
        message: secret
          ? `spec.secretRef: Secret "${ref.name}" has no key "${ref.key}"`
          : `spec.secretRef: Secret "${ref.name}" does not exist in this namespace`,
      };
    }
  }
  return ACCEPTED;
}

/** A Password: its hash as the local connector checks it at login. */
export function judgePassword(o: KubeObject, judges: StatusJudges): Verdict {
  const hash = o.spec?.hash;
  const problem = judges.passwordHash(typeof hash === 'string' ? hash : '');
  return problem === undefined
    ? ACCEPTED
    : { ready: false, reason: Reason.InvalidHash, message: `spec.hash: ${problem}` };
}

/** A Connector: a type Latchkey has. */
export function judgeConnector(o: KubeObject, judges: StatusJudges): Verdict {
  const type = o.spec?.type;
  const problem = judges.connectorType(typeof type === 'string' ? type : '');
  return problem === undefined
    ? ACCEPTED
    : { ready: false, reason: Reason.UnknownConnectorType, message: `spec.type: ${problem}` };
}

/** The Ready condition an object gets for a verdict, keeping the transition time while the status holds. */
export function readyCondition(verdict: Verdict, o: KubeObject, now: Date): Condition {
  const status = verdict.ready ? 'True' : 'False';
  const previous = readyConditionOf(o);
  return {
    type: READY,
    status,
    reason: verdict.ready ? Reason.Accepted : verdict.reason,
    message: verdict.ready ? 'Latchkey uses this object' : verdict.message,
    ...(o.metadata.generation !== undefined ? { observedGeneration: o.metadata.generation } : {}),
    lastTransitionTime:
      previous?.status === status && previous.lastTransitionTime
        ? previous.lastTransitionTime
        : isoSeconds(now),
  };
}

export function readyConditionOf(o: KubeObject): Condition | undefined {
  const conditions = o.status?.conditions;
  if (!Array.isArray(conditions)) return undefined;
  return (conditions as Condition[]).find((c) => c?.type === READY);
}

/** Whether writing `next` would change what the object says (the transition time follows the rest). */
export function conditionChanged(o: KubeObject, next: Condition): boolean {
  const current = readyConditionOf(o);
  return (
    current === undefined ||
    current.status !== next.status ||
    current.reason !== next.reason ||
    current.message !== next.message ||
    current.observedGeneration !== next.observedGeneration ||
    o.status?.observedGeneration !== next.observedGeneration
  );
}

/** metav1.Time has whole seconds. */
const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** How long status writes pause after one was forbidden. */
const FORBIDDEN_PAUSE_MS = 10 * 60_000;

/** One kind whose objects get a status. */
export interface StatusKind {
  ref: ResourceRef;
  judge(o: KubeObject): Verdict | Promise<Verdict>;
  /** The kind's current objects (its watch cache). */
  objects(): KubeObject[];
  /** The newest version of one of them the cache holds. */
  byName(name: string): KubeObject | undefined;
  /** Read-your-writes: the object a status write returned. */
  written(o: KubeObject): void;
}

export interface StatusReporterOptions {
  api: KubeApi;
  lease: Lease;
  kinds: StatusKind[];
  logger?: StorageLogger | undefined;
  now?: () => Date;
}

/**
 * Writes the Ready condition of the objects of some kinds, on the replica holding the Lease, when it
 * changes. Objects are judged one at a time in the order their changes came (a burst of kubectl applies
 * becomes that many judgements, not that many concurrent requests).
 */
export class StatusReporter {
  private readonly pending = new Map<string, { kind: StatusKind; name: string }>();
  private draining: Promise<void> | undefined;
  private stopped = false;
  /** After a 403 on a status write: no more attempts until then (RBAC may be granted meanwhile). */
  private forbiddenUntil = 0;

  constructor(private readonly opts: StatusReporterOptions) {}

  /** A watch event (or local write) of an object of this kind: judge it soon. */
  changed(kind: StatusKind, o: KubeObject): void {
    if (this.stopped) return;
    this.pending.set(`${kind.ref.plural}/${o.metadata.name}`, { kind, name: o.metadata.name });
    this.draining ??= Promise.resolve()
      .then(() => this.drain())
      .finally(() => (this.draining = undefined));
  }

  /** Judges every object of every kind now (start-up, garbage collection); resolves when done. */
  async reconcileAll(): Promise<void> {
    for (const kind of this.opts.kinds) for (const o of kind.objects()) this.changed(kind, o);
    await this.idle();
  }

  /** Resolves once everything queued has been judged. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.pending.size > 0) {
      const [key, item] = this.pending.entries().next().value!;
      this.pending.delete(key);
      // Judge the newest version the cache holds: events queued for older ones are covered by it.
      const o = item.kind.byName(item.name);
      if (!o) continue;
      try {
        if (!(await this.report(item.kind, o))) {
          // Another replica holds the Lease: it sees the same events and writes.
          this.pending.clear();
        }
      } catch (e) {
        // One warning per batch, not per object: the next garbage collection judges everything again.
        this.pending.clear();
        this.failed(item.kind, o, e);
      }
    }
  }

  /** Writes o's condition if it changed; false when this replica does not hold the Lease. */
  private async report(kind: StatusKind, o: KubeObject): Promise<boolean> {
    const next = readyCondition(await kind.judge(o), o, (this.opts.now ?? (() => new Date()))());
    if (!conditionChanged(o, next)) return true;
    if (Date.now() < this.forbiddenUntil) return true;
    if (!(await this.opts.lease.renewIfDue())) return false;
    const others = ((o.status?.conditions as Condition[] | undefined) ?? []).filter((c) => c?.type !== READY);
    try {
      const written = await this.opts.api.replaceStatus(kind.ref, o.metadata.name, {
        apiVersion: o.apiVersion,
        kind: o.kind,
        metadata: { name: o.metadata.name, resourceVersion: o.metadata.resourceVersion },
        status: {
          ...o.status,
          ...(next.observedGeneration !== undefined ? { observedGeneration: next.observedGeneration } : {}),
          conditions: [...others, next],
        },
      });
      kind.written(written);
    } catch (e) {
      // 409: changed since it was read; 404: deleted. Either way the watch brings what happened next.
      if (e instanceof KubeApiError && (e.status === 409 || e.status === 404)) return true;
      throw e;
    }
    return true;
  }

  private failed(kind: StatusKind, o: KubeObject, e: unknown): void {
    const what = { resource: kind.ref.plural, name: o.metadata.name };
    if (e instanceof KubeApiError && e.status === 403) {
      // Status is a courtesy: without RBAC for it, say so, serve on, and try again only much later.
      this.forbiddenUntil = Date.now() + FORBIDDEN_PAUSE_MS;
      this.opts.logger?.warn(
        { err: e, ...what, retryInMs: FORBIDDEN_PAUSE_MS },
        'kubernetes storage: cannot write object status (grant update on <plural>/status); status left as is',
      );
      return;
    }
    this.opts.logger?.warn({ err: e, ...what }, 'kubernetes storage: could not write object status');
  }
}
