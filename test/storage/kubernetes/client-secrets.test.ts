import { UnavailableError } from '../../../src/storage/errors.js';
import { KubeApiError, type KubeApi, type KubeObject } from '../../../src/storage/kubernetes/api.js';
import { SecretsByName } from '../../../src/storage/kubernetes/client-secrets.js';

// Reading the Secrets that clients reference by name: how often the API is asked, and what happens when it
// fails. The real API server is in test/deploy/least-privilege.test.ts; here a stand-in counts the GETs.

const secret = (name: string, value: string): KubeObject => ({
  metadata: { name, resourceVersion: '1' },
  data: { 'client-secret': Buffer.from(value).toString('base64') },
});

const apiError = (status: number | undefined) =>
  new KubeApiError(`get secrets: HTTP ${status}`, 'get', 'secrets', '', status, undefined, undefined);

/** A KubeApi whose getSecret answers from `answer` and counts calls per name. */
function standIn(answer: (name: string) => KubeObject | Error) {
  const calls: string[] = [];
  const api = {
    namespace: 'ns',
    getSecret: (name: string) => {
      calls.push(name);
      const a = answer(name);
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
  } as unknown as KubeApi;
  return { api, calls };
}

describe('SecretsByName', () => {
  it('asks once for concurrent readers and while fresh, again once the freshness has passed', async () => {
    let value = 'one';
    const { api, calls } = standIn((name) => secret(name, value));
    const secrets = new SecretsByName(api, { freshMs: 100 });
    const read = await Promise.all(Array.from({ length: 10 }, () => secrets.get('s')));
    expect(read.every((s) => s?.data?.['client-secret'] === Buffer.from('one').toString('base64'))).toBe(
      true,
    );
    expect(calls).toEqual(['s']);
    value = 'two';
    await secrets.get('s');
    expect(calls).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 150)); // the configured 100 ms freshness
    const again = await secrets.get('s');
    expect(Buffer.from(again!.data!['client-secret']!, 'base64').toString()).toBe('two');
    expect(calls).toEqual(['s', 's']);
  });

  it('remembers that a Secret does not exist, so a client naming a missing one costs no request per use', async () => {
    const { api, calls } = standIn(() => apiError(404));
    const secrets = new SecretsByName(api, { freshMs: 10_000 });
    expect(await secrets.get('missing')).toBeUndefined();
    expect(await secrets.get('missing')).toBeUndefined();
    expect(calls).toEqual(['missing']);
  });

  it('serves the last value while the API fails, without asking on every use; fails without one', async () => {
    let failing = false;
    const { api, calls } = standIn((name) => (failing ? apiError(503) : secret(name, 'kept')));
    const secrets = new SecretsByName(api, { freshMs: 50 });
    await secrets.get('s');
    failing = true;
    await new Promise((r) => setTimeout(r, 80)); // past the configured 50 ms freshness
    const stale = await secrets.get('s');
    expect(Buffer.from(stale!.data!['client-secret']!, 'base64').toString()).toBe('kept');
    expect(calls).toEqual(['s', 's']);
    // Right after a failure the stale value is served without another request.
    await secrets.get('s');
    expect(calls).toHaveLength(2);
    // A Secret never read has no last value: the failure is the caller's.
    await expect(secrets.get('never-read')).rejects.toBeInstanceOf(UnavailableError);
  });

  it('turns a refusal into UnavailableError naming the Secret and the missing permission', async () => {
    const { api } = standIn(() =>
      Object.assign(apiError(403), {
        message: 'get secrets: secrets "s" is forbidden: User "system:serviceaccount:ns:lk" cannot get',
      }),
    );
    const secrets = new SecretsByName(api, { freshMs: 10_000 });
    const err = (await secrets.get('s').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toContain('Secret "s"');
    expect(err.message).toContain('cannot get secrets in namespace "ns": forbidden');
  });

  it('holds a bounded number of names, forgetting the one read from the API longest ago', async () => {
    const { api, calls } = standIn((name) => secret(name, name));
    const secrets = new SecretsByName(api, { freshMs: 60_000 });
    for (let i = 0; i <= 1024; i++) await secrets.get(`s${i}`);
    expect(calls).toHaveLength(1025);
    await secrets.get('s1024'); // kept
    expect(calls).toHaveLength(1025);
    await secrets.get('s0'); // forgotten: read again
    expect(calls).toHaveLength(1026);
  });
});
