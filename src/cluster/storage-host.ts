import type { Storage } from '../storage/storage.js';
import { serveRpc, type RpcChannel, type RpcHandlers, type RpcServer } from './rpc.js';
import { sameEntity } from './same-entity.js';
import {
  rpcMethod,
  storageMethods,
  type CasAnswer,
  type CasArgs,
  type StorageMethod,
} from './storage-protocol.js';

// The primary process's side: one Storage (one set of watches, one garbage collector, one Lease per
// replica) served to the workers over their IPC channels. Calls are forwarded to it; update* arrive as
// compare-and-swap requests, because the updater stays in the worker.

/** Thrown by the host's updater when the stored entity is no longer the one the worker read. */
class Stale {
  constructor(readonly current: unknown) {}
}

/** The handlers that expose `storage`: every method of the interface but close (the host owns it), and kind. */
export function storageHandlers(storage: Storage): RpcHandlers {
  const handlers: RpcHandlers = { [rpcMethod('kind')]: () => storage.kind };
  for (const [method, how] of storageMethods()) {
    if (how.by === 'call')
      handlers[rpcMethod(method)] = (...args: unknown[]) => invoke(storage, method, args);
    if (how.by === 'compare-and-swap') {
      handlers[rpcMethod(method)] = (...args: CasArgs) => compareAndSwap(storage, method, ...args);
    }
  }
  return handlers;
}

/** Serves `storage` on one worker's channel (call once per worker); close() stops serving, not the storage. */
export function serveStorage(channel: RpcChannel, storage: Storage): RpcServer {
  return serveRpc(channel, storageHandlers(storage));
}

function invoke(storage: Storage, method: StorageMethod, args: unknown[]): Promise<unknown> {
  const fn = storage[method] as (...a: unknown[]) => Promise<unknown>;
  return fn.apply(storage, args);
}

/**
 * Runs the back end's own optimistic update with an updater that writes `next` only while the stored entity
 * deep-equals `expected`. The back end keeps its guarantees (the write lands only if nobody wrote since its
 * own read, else it re-reads and asks again), and the comparison extends them back to the worker's read.
 * Comparing values rather than versions lets an entity changed and changed back pass; that loses nothing,
 * since `next` was computed from exactly what is stored.
 */
async function compareAndSwap(
  storage: Storage,
  method: StorageMethod,
  key: unknown[],
  expected: unknown,
  next: unknown,
): Promise<CasAnswer> {
  if (!Array.isArray(key)) throw new TypeError(`${method}: the key arguments are not a list`);
  const updater = (current: unknown): unknown => {
    if (!sameEntity(current, expected)) throw new Stale(current);
    return next;
  };
  try {
    return { written: await invoke(storage, method, [...key, updater]) };
  } catch (e) {
    // The entity as it is now: the worker re-applies its updater to it without another read.
    if (e instanceof Stale) return { stale: e.current };
    throw e;
  }
}
