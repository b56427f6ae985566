import { KubeApiError, type KubeApi, type KubeObject } from '../../../src/storage/kubernetes/api.js';
import type { Lease } from '../../../src/storage/kubernetes/lease.js';
import { statusJudges } from '../../../src/connectors/status-judges.js';
import {
  conditionChanged,
  judgeClient,
  judgeConnector,
  judgePassword,
  readyCondition,
  readyConditionOf,
  StatusReporter,
  type StatusKind,
} from '../../../src/storage/kubernetes/status.js';

// The judging and the write discipline of status.ts without a cluster (status.test.ts has the real thing).

const HASH = '$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W';

const object = (spec: Record<string, unknown>, more: Partial<KubeObject> = {}): KubeObject => ({
  apiVersion: 'latchkey.dev/v1',
  kind: 'OAuth2Client',
  metadata: { name: 'o', resourceVersion: '1', generation: 1 },
  spec,
  ...more,
});
const noSecrets = () => Promise.resolve(undefined);

describe('judging', () => {
  it('finds the first redirect URI the configuration file would refuse', async () => {
    const v = await judgeClient(
      object({ redirectURIs: ['http://127.0.0.1/cb', 'http://:80/cb'] }),
      noSecrets,
    );
    expect(v).toEqual({
      ready: false,
      reason: 'InvalidRedirectURI',
      message: expect.stringMatching(/^spec\.redirectURIs\[1\]: expected an absolute URL/) as string,
    });
    for (const ok of ['urn:ietf:wg:oauth:2.0:oob', '/device/callback', 'https://app.example.com/cb?x=1']) {
      expect(await judgeClient(object({ redirectURIs: [ok] }), noSecrets)).toEqual({ ready: true });
    }
  });

  it('needs the Secret a client names, with the key', async () => {
    const client = object({ secretRef: { name: 'creds', key: 'secret' } });
    expect(await judgeClient(client, noSecrets)).toMatchObject({
      reason: 'MissingSecret',
      message: 'spec.secretRef: Secret "creds" does not exist in this namespace',
    });
    const other = { metadata: { name: 'creds' }, data: { other: 'eA==' } };
    expect(await judgeClient(client, () => Promise.resolve(other))).toMatchObject({
      reason: 'MissingSecret',
      message: 'spec.secretRef: Secret "creds" has no key "secret"',
    });
    const good = { metadata: { name: 'creds' }, data: { secret: 'eA==' } };
    expect(await judgeClient(client, () => Promise.resolve(good))).toEqual({ ready: true });
  });

  it('refuses the hashes the local connector refuses at login', () => {
    expect(judgePassword(object({ hash: HASH }), statusJudges)).toEqual({ ready: true });
    expect(judgePassword(object({ hash: HASH.replace('$10$', '$04$') }), statusJudges)).toEqual({
      ready: false,
      reason: 'InvalidHash',
      message: 'spec.hash: bcrypt cost 4 is outside 10..16',
    });
    expect(judgePassword(object({}), statusJudges)).toMatchObject({ reason: 'InvalidHash' });
  });

  it('knows the connector types Latchkey has', () => {
    expect(judgeConnector(object({ type: 'ldap' }), statusJudges)).toEqual({ ready: true });
    expect(judgeConnector(object({ type: 'saml' }), statusJudges)).toMatchObject({
      reason: 'UnknownConnectorType',
      message: expect.stringContaining('"saml" is not supported by Latchkey (supported: local,') as string,
    });
  });
});

describe('the Ready condition', () => {
  const t0 = new Date('2026-01-01T00:00:00.123Z');
  const t1 = new Date('2026-01-01T01:00:00Z');

  it('keeps its transition time while the status holds, and moves it when the status flips', () => {
    const first = readyCondition({ ready: false, reason: 'InvalidHash', message: 'a' }, object({}), t0);
    expect(first).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'InvalidHash',
      message: 'a',
      observedGeneration: 1,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
    const judged = object({}, { status: { observedGeneration: 1, conditions: [first] } });
    const same = readyCondition({ ready: false, reason: 'InvalidHash', message: 'b' }, judged, t1);
    expect(same.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(conditionChanged(judged, same)).toBe(true);
    expect(
      conditionChanged(
        judged,
        readyCondition({ ready: false, reason: 'InvalidHash', message: 'a' }, judged, t1),
      ),
    ).toBe(false);
    const flipped = readyCondition({ ready: true }, judged, t1);
    expect(flipped).toMatchObject({
      status: 'True',
      reason: 'Accepted',
      lastTransitionTime: '2026-01-01T01:00:00Z',
    });
    // A new generation is a change even with the same verdict.
    const newer = { ...judged, metadata: { ...judged.metadata, generation: 2 } };
    expect(
      conditionChanged(
        newer,
        readyCondition({ ready: false, reason: 'InvalidHash', message: 'a' }, newer, t1),
      ),
    ).toBe(true);
  });
});

describe('StatusReporter', () => {
  function setup(opts: { holds: boolean; fail?: KubeApiError }) {
    const objects = new Map<string, KubeObject>();
    const writes: { name: string; body: { status: Record<string, unknown>; metadata: object } }[] = [];
    let leaseAsked = 0;
    const api = {
      replaceStatus: (
        _ref: unknown,
        name: string,
        body: { status: Record<string, unknown>; metadata: object },
      ) => {
        writes.push({ name, body });
        if (opts.fail) return Promise.reject(opts.fail);
        const current = objects.get(name)!;
        const rv = String(Number(current.metadata.resourceVersion) + 1);
        return Promise.resolve({
          ...current,
          metadata: { ...current.metadata, resourceVersion: rv },
          status: body.status,
        });
      },
    } as unknown as KubeApi;
    const lease = {
      renewIfDue: () => {
        leaseAsked++;
        return Promise.resolve(opts.holds);
      },
    } as unknown as Lease;
    const kind: StatusKind = {
      ref: { group: 'latchkey.dev', version: 'v1', plural: 'passwords' },
      judge: (o) => judgePassword(o, statusJudges),
      objects: () => [...objects.values()],
      byName: (name) => objects.get(name),
      // As the watch cache does: take the written object in, and tell the reporter.
      written: (o) => {
        objects.set(o.metadata.name, o);
        reporter.changed(kind, o);
      },
    };
    const reporter = new StatusReporter({
      api,
      lease,
      kinds: [kind],
      now: () => new Date('2026-01-01T00:00:00Z'),
    });
    const put = (o: KubeObject) => {
      objects.set(o.metadata.name, o);
      reporter.changed(kind, o);
    };
    return { reporter, put, writes, objects, leaseAsked: () => leaseAsked };
  }

  it('writes once per change of the condition, however many events come', async () => {
    const { reporter, put, writes, objects } = setup({ holds: true });
    put(object({ hash: 'nope' }, { metadata: { name: 'p', resourceVersion: '1', generation: 1 } }));
    await reporter.idle();
    expect(writes).toHaveLength(1);
    expect(readyConditionOf(objects.get('p')!)).toMatchObject({ status: 'False', reason: 'InvalidHash' });
    // Events of the same generation (labels, the status write itself): nothing to write.
    for (let i = 0; i < 5; i++)
      put({
        ...objects.get('p')!,
        metadata: { ...objects.get('p')!.metadata, resourceVersion: `${10 + i}` },
      });
    await reporter.reconcileAll();
    expect(writes).toHaveLength(1);
    put({
      ...objects.get('p')!,
      spec: { hash: HASH },
      metadata: { name: 'p', resourceVersion: '20', generation: 2 },
    });
    await reporter.idle();
    expect(writes).toHaveLength(2);
    expect(writes[1]!.body.metadata).toEqual({ name: 'p', resourceVersion: '20' });
    expect(readyConditionOf(objects.get('p')!)).toMatchObject({ status: 'True', observedGeneration: 2 });
  });

  it('writes nothing without the Lease, and asks for it only when there is something to write', async () => {
    const { reporter, put, writes, leaseAsked } = setup({ holds: false });
    put(
      object(
        { hash: HASH },
        {
          metadata: { name: 'good', resourceVersion: '1', generation: 1 },
          status: {
            observedGeneration: 1,
            conditions: [readyCondition({ ready: true }, object({}), new Date())],
          },
        },
      ),
    );
    await reporter.idle();
    expect(leaseAsked()).toBe(0);
    put(object({ hash: 'nope' }, { metadata: { name: 'bad', resourceVersion: '1', generation: 1 } }));
    await reporter.idle();
    expect(leaseAsked()).toBe(1);
    expect(writes).toEqual([]);
  });

  it('takes a conflict as news on its way through the watch, not as a failure', async () => {
    const conflict = new KubeApiError(
      'conflict',
      'update',
      'passwords/status',
      'latchkey.dev',
      409,
      'Conflict',
      undefined,
    );
    const { reporter, put, writes } = setup({ holds: true, fail: conflict });
    put(object({ hash: 'nope' }, { metadata: { name: 'p', resourceVersion: '1', generation: 1 } }));
    await expect(reporter.idle()).resolves.toBeUndefined();
    expect(writes).toHaveLength(1);
  });

  it('stops trying after a write is forbidden (no request per event without RBAC for status)', async () => {
    const forbidden = new KubeApiError(
      'forbidden',
      'update',
      'passwords/status',
      'latchkey.dev',
      403,
      'Forbidden',
      undefined,
    );
    const { reporter, put, writes } = setup({ holds: true, fail: forbidden });
    put(object({ hash: 'nope' }, { metadata: { name: 'p', resourceVersion: '1', generation: 1 } }));
    put(object({ hash: 'nope' }, { metadata: { name: 'q', resourceVersion: '1', generation: 1 } }));
    await reporter.idle();
    for (let i = 2; i < 6; i++)
      put(object({ hash: `nope-${i}` }, { metadata: { name: 'p', resourceVersion: `${i}`, generation: i } }));
    await reporter.reconcileAll();
    expect(writes).toHaveLength(1);
  });
});
