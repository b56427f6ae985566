import { deepCopy } from '../storage/copy.js';
import { ConflictError } from '../storage/errors.js';
import type { Storage, Updater } from '../storage/storage.js';
import type { RpcClient } from './rpc.js';
import {
  rpcMethod,
  storageMethods,
  type CasAnswer,
  type CasArgs,
  type CompareAndSwap,
  type StorageMethod,
} from './storage-protocol.js';

// The worker's side: a Storage whose every method is a call to the storage host in the primary process
// (storage-host.ts). update* keeps the contract's optimism across the channel: read, apply the updater here,
// compare-and-swap there, and on a stale answer re-apply to the entity as it now is, a bounded number of
// times. Results are deep-copied once received, which also rebuilds them in this realm (a structured clone is
// built in the main realm: under a VM-sandboxed runner its Dates would fail `instanceof Date`).

/** Applications of an updater before giving up with ConflictError, as the back ends do. */
export const MAX_UPDATE_ATTEMPTS = 5;

/** A Storage served by the host at the other end of `client`'s channel; close() closes only the client. */
export function storageOverRpc(client: RpcClient, kind: string): Storage {
  const starts = new UpdateStarts();
  const proxy: Record<string, unknown> = { kind };
  for (const [method, how] of storageMethods()) {
    if (how.by === 'call') proxy[method] = (...args: unknown[]) => forward(client, method, args);
    if (how.by === 'compare-and-swap') {
      proxy[method] = (...args: unknown[]) => update(client, starts, method, how, args);
    }
    if (how.by === 'client-close') proxy[method] = () => Promise.resolve(client.close());
  }
  // Complete by construction: storage-protocol.ts's table lists every method of the interface.
  return proxy as unknown as Storage;
}

/** The same, asking the host for its kind first (one call at connect). */
export async function connectStorage(client: RpcClient): Promise<Storage> {
  return storageOverRpc(client, await client.call<string>(rpcMethod('kind'), []));
}

async function forward(client: RpcClient, method: StorageMethod, args: unknown[]): Promise<unknown> {
  return deepCopy(await client.call<unknown>(rpcMethod(method), args));
}

/**
 * Counts the updates started, per method. An update of the same kind started from inside an updater (the
 * contract forbids side effects, but says what happens) will change the entity after this attempt's read,
 * and the host could not tell: it may not even have read yet. So, as the Kubernetes back end does, such an
 * attempt counts as stale. Per method rather than per key, because this side cannot tell keys that name one
 * entity (an email in another case): that only makes a forbidden updater retry more.
 */
class UpdateStarts {
  private readonly counts = new Map<StorageMethod, number>();
  start(method: StorageMethod): void {
    this.counts.set(method, this.of(method) + 1);
  }
  of(method: StorageMethod): number {
    return this.counts.get(method) ?? 0;
  }
}

async function update(
  client: RpcClient,
  starts: UpdateStarts,
  method: StorageMethod,
  how: CompareAndSwap,
  args: unknown[],
): Promise<unknown> {
  starts.start(method);
  const key = args.slice(0, -1);
  const updater = args.at(-1) as Updater<unknown>;
  const read = (): Promise<unknown> => forward(client, how.read, key);
  let current = await read();
  for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
    const startsBefore = starts.of(method);
    // The updater gets a copy: should it scribble on its argument, `current` still says what was read.
    const input = deepCopy(current);
    const next = updater(input);
    if (next === input) return current;
    if (starts.of(method) !== startsBefore) {
      current = await read();
      continue;
    }
    const casArgs: CasArgs = [key, current, next];
    const answer = await client.call<CasAnswer>(rpcMethod(method), casArgs);
    if ('written' in answer) return deepCopy(answer.written);
    current = deepCopy(answer.stale);
  }
  throw new ConflictError(describe(method, key));
}

/** "Client \"x\"", "OfflineSessions \"u\"/\"ldap\"": what ConflictError's message names. */
function describe(method: StorageMethod, key: unknown[]): string {
  return `${method.replace(/^update/, '')} ${key.map((k) => JSON.stringify(k)).join('/')}`;
}
