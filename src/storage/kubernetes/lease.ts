import { KubeApiError, type KubeApi, type ResourceRef } from './api.js';

// A coordination.k8s.io Lease so that one replica at a time collects garbage. Acquiring and renewing are
// compare-and-swap writes (create, or replace with the resourceVersion read): of two replicas racing for
// an expired lease exactly one wins. The lease is kept after a run, so replicas whose schedules fall within
// one lease duration of each other do not repeat the work.

const LEASE_REF: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };

interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** metav1.MicroTime wants six fractional digits. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class Lease {
  private lastRenew = 0;

  constructor(
    private readonly api: KubeApi,
    readonly name: string,
    readonly identity: string,
    readonly durationSeconds: number,
  ) {}

  /** Takes the lease (or renews it if ours); false if another holder's lease is still valid. */
  async acquire(): Promise<boolean> {
    const now = Date.now();
    let current: LeaseObject;
    try {
      current = await this.api.get<LeaseObject>(LEASE_REF, this.name);
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 404)) throw e;
      return this.write(() =>
        this.api.create(LEASE_REF, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.name, namespace: this.api.namespace },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: this.durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        }),
      );
    }
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewed = spec.renewTime ? Date.parse(spec.renewTime) : 0;
    const validUntil = renewed + (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder && holder !== this.identity && validUntil > now) return false;
    const taking = holder !== this.identity;
    return this.write(() =>
      this.api.replace(LEASE_REF, this.name, {
        ...current,
        spec: {
          ...spec,
          holderIdentity: this.identity,
          leaseDurationSeconds: this.durationSeconds,
          acquireTime: taking || !spec.acquireTime ? microTime(now) : spec.acquireTime,
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (taking && holder ? 1 : 0),
        },
      }),
    );
  }

  /** Renews when a third of the duration has passed; false if the lease was lost. */
  async renewIfDue(): Promise<boolean> {
    if (Date.now() - this.lastRenew < (this.durationSeconds * 1000) / 3) return true;
    return this.acquire();
  }

  private async write(send: () => Promise<unknown>): Promise<boolean> {
    const started = Date.now();
    try {
      await send();
      this.lastRenew = started;
      return true;
    } catch (e) {
      // Someone else created or changed it between our read and our write.
      if (e instanceof KubeApiError && e.status === 409) return false;
      throw e;
    }
  }
}
