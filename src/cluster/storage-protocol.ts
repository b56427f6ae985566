import type { Storage, Updater } from '../storage/storage.js';

// What the storage host (primary process) and its proxies (workers) agree on: how each Storage method
// crosses the RPC channel, and the names and answers of the calls. One table drives both sides, and its type
// lists every method of the interface: a new Storage method does not compile until it is entered here, and a
// new update* method must be entered as a compare-and-swap with the method that reads its entity.

export type StorageMethod = Exclude<keyof Storage, 'kind'>;

type Args<M extends StorageMethod> = Parameters<Storage[M]>;

/** The arguments of an update* method that name the entity: all of them but the trailing updater. */
type UpdateKey<M extends StorageMethod> = Args<M> extends [...infer Key, Updater<infer _>] ? Key : never;

/** The entity an update* method updates. */
type UpdatedEntity<M extends StorageMethod> = Args<M> extends [...unknown[], Updater<infer T>] ? T : never;

/** The methods that read, by the same key, the entity update method M updates. */
type ReaderOf<M extends StorageMethod> = {
  [R in StorageMethod]: Storage[R] extends (...key: UpdateKey<M>) => Promise<UpdatedEntity<M>> ? R : never;
}[StorageMethod];

/** Arguments and result are data: the call is forwarded as it is. */
interface Forwarded {
  by: 'call';
}

/** close(): the proxy closes its own RPC client, never the storage, which the host owns. */
interface ClientClose {
  by: 'client-close';
}

/**
 * update*(…key, updater): an updater is a function and cannot cross. The proxy reads with `read`, applies the
 * updater in its own process, and asks the host to write the result only if the entity still equals what it
 * read (see storage-host.ts).
 */
export interface CompareAndSwap<R extends StorageMethod = StorageMethod> {
  by: 'compare-and-swap';
  read: R;
}

type Crossing<M extends StorageMethod> = [UpdateKey<M>] extends [never]
  ? Forwarded | ClientClose
  : CompareAndSwap<ReaderOf<M>>;

const call: Forwarded = { by: 'call' };
const casReadingWith = <R extends StorageMethod>(read: R): CompareAndSwap<R> => ({
  by: 'compare-and-swap',
  read,
});

export const STORAGE_METHODS: { readonly [M in StorageMethod]: Crossing<M> } = {
  createClient: call,
  getClient: call,
  listClients: call,
  updateClient: casReadingWith('getClient'),
  deleteClient: call,

  createAuthRequest: call,
  getAuthRequest: call,
  updateAuthRequest: casReadingWith('getAuthRequest'),
  deleteAuthRequest: call,
  listAuthRequests: call,

  createAuthCode: call,
  getAuthCode: call,
  consumeAuthCode: call,
  deleteAuthCode: call,

  createRefreshToken: call,
  getRefreshToken: call,
  listRefreshTokens: call,
  updateRefreshToken: casReadingWith('getRefreshToken'),
  deleteRefreshToken: call,

  createOfflineSessions: call,
  getOfflineSessions: call,
  updateOfflineSessions: casReadingWith('getOfflineSessions'),
  deleteOfflineSessions: call,

  createPassword: call,
  getPassword: call,
  listPasswords: call,
  updatePassword: casReadingWith('getPassword'),
  deletePassword: call,

  createConnector: call,
  getConnector: call,
  listConnectors: call,
  updateConnector: casReadingWith('getConnector'),
  deleteConnector: call,

  createDeviceRequest: call,
  getDeviceRequest: call,

  createDeviceToken: call,
  getDeviceToken: call,
  updateDeviceToken: casReadingWith('getDeviceToken'),
  consumeDeviceToken: call,

  createKeySet: call,
  getKeySet: call,
  updateKeySet: casReadingWith('getKeySet'),

  createRevocation: call,
  getRevocation: call,

  createSession: call,
  getSession: call,
  listSessions: call,
  updateSession: casReadingWith('getSession'),
  deleteSession: call,

  garbageCollect: call,
  ping: call,
  close: { by: 'client-close' },
};

/** The table as entries, for code that treats every method alike. */
export function storageMethods(): [StorageMethod, Forwarded | ClientClose | CompareAndSwap][] {
  return Object.entries(STORAGE_METHODS) as [StorageMethod, Forwarded | ClientClose | CompareAndSwap][];
}

/** RPC method names carry a prefix, so other services can share the channel's handler table. */
export const rpcMethod = (method: StorageMethod | 'kind'): string => `storage.${method}`;

/**
 * The arguments of a compare-and-swap call: the entity's key arguments, the value the proxy read, and the
 * value to write in its place.
 */
export type CasArgs = [key: unknown[], expected: unknown, next: unknown];

/** The host's answer: the entity as written, or — it had changed — the entity as it is now. */
export type CasAnswer = { written: unknown } | { stale: unknown };
