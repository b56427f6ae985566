import { types } from 'node:util';
import { RpcClient } from '../../src/cluster/rpc.js';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  StorageError,
  UnavailableError,
  isConflict,
  isNotFound,
} from '../../src/storage/errors.js';
import { ReadOnlyError } from '../../src/storage/static.js';
import { rejection } from '../storage/conformance/context.js';
import { TestChild, within } from './fork.js';
import { RecordingChannel } from './recording-channel.js';

// The RPC layer against a real child process (rpc-host.ts): concurrency, errors as values, structured
// clone, other traffic on the channel, and what a dead or closed peer does to the calls.

const PROMPTLY_MS = 5_000;
const children: TestChild[] = [];

async function startHost(serialization: 'advanced' | 'json' = 'advanced'): Promise<TestChild> {
  const child = new TestChild('rpc-host.ts', [], serialization);
  children.push(child);
  await child.ready();
  return child;
}

afterAll(async () => {
  for (const child of children) await child.stop();
});

describe('rpc over a forked child', () => {
  let host: TestChild;
  let client: RpcClient;
  beforeAll(async () => {
    host = await startHost();
    client = new RpcClient(host.process);
  });
  afterAll(() => client.close());

  it('answers many calls in flight, each with its own reply, whatever the order of the answers', async () => {
    const names = Array.from({ length: 50 }, (_, i) => `call-${i}`);
    const held = names.map((name) => client.call<string>('hold', [name]));
    // Released last first, and with values the calls could not guess.
    const values = names.map((name) => `${name}:${Math.random()}`);
    for (let i = names.length - 1; i >= 0; i--) await client.call('release', [names[i], values[i]]);
    expect(await Promise.all(held)).toEqual(values);
    expect(client.pendingCalls).toBe(0);
  });

  it('round-trips Dates, byte arrays, Maps, bigints and absent values as themselves', async () => {
    const sent = {
      when: new Date('2030-07-08T09:10:11.012+05:45'),
      bytes: Uint8Array.of(0, 1, 254, 255),
      byName: new Map<string, Date>([['k', new Date(5)]]),
      big: 2n ** 70n,
      nothing: undefined,
    };
    const got = await client.call<typeof sent>('echo', [sent]);
    // Built in the main realm by the IPC layer: recognised by their internal type, not instanceof.
    expect(types.isDate(got.when) && got.when.getTime()).toBe(sent.when.getTime());
    expect(types.isUint8Array(got.bytes) && [...got.bytes]).toEqual([...sent.bytes]);
    expect(types.isMap(got.byName) && types.isDate(got.byName.get('k'))).toBe(true);
    expect(got.byName.get('k')!.getTime()).toBe(5);
    expect(got.big).toBe(sent.big);
    expect(Object.keys(got).sort()).toEqual(Object.keys(sent).sort());
  });

  describe('errors', () => {
    const cases = [
      ['NotFound', NotFoundError, new NotFoundError('client "x"')],
      ['AlreadyExists', AlreadyExistsError, new AlreadyExistsError('client "x"')],
      ['Conflict', ConflictError, new ConflictError('client "x"')],
      ['Unavailable', UnavailableError, new UnavailableError('the back end is down')],
      ['ReadOnly', ConflictError, new ReadOnlyError('client "x"')],
    ] as const;
    for (const [kind, cls, original] of cases) {
      it(`bring a ${original.name} back as its storage class, with its message and name`, async () => {
        const err = await rejection(client.call('fail', [kind]));
        expect(err).toBeInstanceOf(cls);
        expect(err).toBeInstanceOf(StorageError);
        expect((err as StorageError).code).toBe(original.code);
        expect((err as Error).message).toBe(original.message);
        expect((err as Error).name).toBe(original.name);
      });
    }

    it('are recognised by the storage predicates', async () => {
      expect(isNotFound(await rejection(client.call('fail', ['NotFound'])))).toBe(true);
      expect(isConflict(await rejection(client.call('fail', ['ReadOnly'])))).toBe(true);
      expect(isConflict(await rejection(client.call('fail', ['NotFound'])))).toBe(false);
    });

    it('bring any other error back as an Error with its name and message, not its stack', async () => {
      const err = (await rejection(client.call('fail', ['TypeError']))) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(StorageError);
      expect(err.name).toBe('TypeError');
      expect(err.message).toBe('bad input in the host');
      expect(err.stack).not.toContain('rpc-host');
    });

    it('bring a thrown non-error back as an Error with its text', async () => {
      const err = (await rejection(client.call('fail', ['string']))) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toBe('a thrown string');
    });

    it('name a method the host does not serve', async () => {
      await expect(client.call('toString', [])).rejects.toThrow(/no method "toString"/);
      await expect(client.call('nonesuch', [])).rejects.toThrow(/no method "nonesuch"/);
    });

    it('say so when the arguments or the result cannot be cloned', async () => {
      await expect(client.call('echo', [() => 1])).rejects.toThrow(/structured-cloneable/);
      expect(client.pendingCalls).toBe(0);
      await expect(client.call('unsendable', [])).rejects.toThrow(/result could not be sent/);
    });
  });

  it('ignores other traffic on the channel, in both directions', async () => {
    const channel = new RecordingChannel(host.process);
    const watched = new RpcClient(channel);
    const before = await watched.call<number>('foreignMessages', []);
    const name = channel.sent[0]!.client;
    // Calls without the tag (or another protocol's) must go unanswered: watch for answers to client "x".
    const answersToX: unknown[] = [];
    const watch = (m: unknown): void =>
      void ((m as { client?: unknown }).client === 'x' && answersToX.push(m));
    host.process.on('message', watch);
    host.process.send({ type: 'call', client: 'x', id: 0, method: 'echo', args: [1] });
    host.process.send({ latchkeyRpc: 2n, type: 'call', client: 'x', id: 0, method: 'echo', args: [1] });
    const held = watched.call<string>('hold', ['during-chatter']);
    const ids = channel.sent.length + 1;
    // Look-alike replies for every id this client has used, untagged and for another client.
    expect(await watched.call('chatter', ['answered', name, ids])).toBe('answered');
    expect(watched.pendingCalls).toBe(1);
    await watched.call('release', ['during-chatter', 'released']);
    expect(await held).toBe('released');
    // The host saw both calls (in order, before the later ones) and answered neither.
    expect(await watched.call<number>('foreignMessages', [])).toBe(before + 2);
    host.process.off('message', watch);
    watched.close();
    expect(answersToX).toEqual([]);
  });

  it('lets clients share a channel: replies reach the client that called, close fails only its own calls', async () => {
    const other = new RpcClient(host.process);
    const mine = client.call<string>('hold', ['mine']);
    const theirs = other.call<string>('hold', ['theirs']);
    other.close();
    const err = await rejection(theirs);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(other.pendingCalls).toBe(0);
    await expect(other.call('echo', [1])).rejects.toBeInstanceOf(UnavailableError);
    await client.call('release', ['theirs', 'too late']);
    await client.call('release', ['mine', 'for me']);
    expect(await mine).toBe('for me');
  });
});

describe('rpc when the host dies', () => {
  it('fails every pending call with UnavailableError promptly, and later calls at once', async () => {
    const host = await startHost();
    const client = new RpcClient(host.process);
    expect(await client.call('echo', ['alive'])).toBe('alive');
    const pending = Promise.allSettled(Array.from({ length: 20 }, (_, i) => client.call('hold', [`h${i}`])));
    expect(client.pendingCalls).toBe(20);
    await host.stop('SIGKILL');
    const outcomes = await within(PROMPTLY_MS, pending, 'pending calls');
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(UnavailableError);
    }
    expect(client.pendingCalls).toBe(0);
    for (let i = 0; i < 100; i++) {
      await expect(client.call('echo', [i])).rejects.toBeInstanceOf(UnavailableError);
    }
    expect(client.pendingCalls).toBe(0);
  });
});

describe('rpc over a JSON channel', () => {
  it('fails the first call loudly, naming the serialization it needs', async () => {
    const host = await startHost('json');
    const client = new RpcClient(host.process);
    try {
      await expect(client.call('echo', [new Date()])).rejects.toThrow(/serialization: 'advanced'/);
      expect(client.pendingCalls).toBe(0);
    } finally {
      client.close();
    }
  });
});
